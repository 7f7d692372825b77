package netpol

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// ReachReport is the answer of `rampart netpol reach`.
type ReachReport struct {
	// From, To and Port are the arguments.
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port,omitempty"`
	// Verdict is allowed, partial or denied over all connections.
	Verdict string `json:"verdict"`
	// Connections are the workload pairs the endpoints expand to.
	Connections []ConnectionReport `json:"connections"`
}

// ConnectionReport is one connection's verdict and its reasons.
type ConnectionReport struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Verdict string `json:"verdict"`
	// Port is the resolved queried port (PORT/PROTO).
	Port string `json:"port,omitempty"`
	// Allowed lists the ports that pass ("(partial)" when only some
	// addresses of a CIDR pass).
	Allowed []string    `json:"allowed"`
	Egress  *SideReport `json:"egress,omitempty"`
	Ingress *SideReport `json:"ingress,omitempty"`
	Notes   []string    `json:"notes,omitempty"`
}

// SideReport is one side's verdict.
type SideReport struct {
	// Workload is the pod whose policies decide.
	Workload string `json:"workload"`
	Isolated bool   `json:"isolated"`
	// Policies are the policies isolating it.
	Policies []string `json:"policies,omitempty"`
	Verdict  string   `json:"verdict"`
	// Rules are the rules that allow the traffic, with their location.
	Rules []RuleReport `json:"rules,omitempty"`
}

// RuleReport names a rule and where it is written.
type RuleReport struct {
	Rule   string `json:"rule"`
	Source string `json:"source,omitempty"`
}

// NewReachReport summarises connections.
func NewReachReport(from, to string, q *Query, conns []*Connection) *ReachReport {
	r := &ReachReport{From: from, To: to, Connections: []ConnectionReport{}}
	if q != nil {
		r.Port = q.String()
	}
	verdicts := make([]Segment, 0, len(conns))
	for _, c := range conns {
		cr := ConnectionReport{From: c.From.String(), To: c.To.String(), Verdict: c.Verdict.String(), Allowed: []string{}, Notes: c.Notes}
		if c.Protocol != "" {
			cr.Port = fmt.Sprintf("%d/%s", c.Port, c.Protocol)
		}
		for _, s := range c.Allowed {
			p := s.PortString()
			if s.Coverage == Partial {
				p += " (partial)"
			}
			cr.Allowed = append(cr.Allowed, p)
		}
		cr.Egress = sideReport(c, c.Egress)
		cr.Ingress = sideReport(c, c.Ingress)
		r.Connections = append(r.Connections, cr)
		verdicts = append(verdicts, Segment{Coverage: c.Verdict})
	}
	r.Verdict = overall(verdicts).String()
	return r
}

func sideReport(c *Connection, s *Side) *SideReport {
	if s == nil {
		return nil
	}
	v, rules := c.SideVerdict(s)
	sr := &SideReport{Workload: s.Pod.ID(), Isolated: s.Isolated, Verdict: v.String()}
	for _, p := range s.Policies {
		sr.Policies = append(sr.Policies, p.ID())
	}
	for _, r := range rules {
		sr.Rules = append(sr.Rules, RuleReport{Rule: r.String(), Source: ruleSource(r)})
	}
	return sr
}

// ruleSource renders where a rule is written: file:line.
func ruleSource(r RuleRef) string {
	src := r.Policy.Source
	if src.File == "" {
		return ""
	}
	line := src.Line
	rules := r.Policy.IngressRules
	if r.Egress {
		rules = r.Policy.EgressRules
	}
	for _, x := range rules {
		if x.Index == r.Index && x.Line > 0 {
			line = x.Line
		}
	}
	return location(src, line)
}

func location(src k8s.Source, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", src.File, line)
	}
	return src.File
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteReachTable writes a reach report for people.
func WriteReachTable(w io.Writer, r *ReachReport) error {
	var b strings.Builder
	port := "any port"
	if r.Port != "" {
		port = "port " + r.Port
	}
	fmt.Fprintf(&b, "%s -> %s, %s: %s\n", r.From, r.To, port, strings.ToUpper(r.Verdict))
	for _, c := range r.Connections {
		b.WriteString("\n")
		what := "any port"
		if c.Port != "" {
			what = c.Port
		}
		fmt.Fprintf(&b, "%s -> %s (%s): %s\n", c.From, c.To, what, c.Verdict)
		if r.Port == "" {
			allowed := "none"
			if len(c.Allowed) > 0 {
				allowed = strings.Join(c.Allowed, ", ")
			}
			fmt.Fprintf(&b, "  allowed ports: %s\n", allowed)
		}
		writeSide(&b, "egress ", c.Egress, c.From)
		writeSide(&b, "ingress", c.Ingress, c.To)
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSide(b *strings.Builder, dir string, s *SideReport, peer string) {
	if s == nil {
		fmt.Fprintf(b, "  %s: %s is outside the cluster (no NetworkPolicy applies)\n", dir, peer)
		return
	}
	if !s.Isolated {
		fmt.Fprintf(b, "  %s: %s is not isolated (no policy selects it): allowed\n", dir, s.Workload)
		return
	}
	fmt.Fprintf(b, "  %s: %s is isolated by %s: %s\n", dir, s.Workload, strings.Join(s.Policies, ", "), s.Verdict)
	if len(s.Rules) == 0 {
		fmt.Fprintf(b, "    no rule allows it\n")
	}
	for _, r := range s.Rules {
		if r.Source != "" {
			fmt.Fprintf(b, "    allowed by %s (%s)\n", r.Rule, r.Source)
		} else {
			fmt.Fprintf(b, "    allowed by %s\n", r.Rule)
		}
	}
}

// WriteCoverageTable writes a coverage report for people.
func WriteCoverageTable(w io.Writer, r *CoverageReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tPOLICIES\tWORKLOADS\tINGRESS ISOLATED\tEGRESS ISOLATED")
	for _, n := range r.Namespaces {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", n.Namespace, len(n.Policies), n.Workloads,
			nsCount(n.IngressIsolated, n.Workloads, n.AllIngress), nsCount(n.EgressIsolated, n.Workloads, n.AllEgress))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Workloads) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKLOAD\tINGRESS\tEGRESS")
		for _, wc := range r.Workloads {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", wc.Workload, isoString(wc.Ingress), isoString(wc.Egress))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var b strings.Builder
	var warns []string
	for _, wc := range r.Workloads {
		for _, x := range wc.Warnings {
			warns = append(warns, wc.Workload+": "+x)
		}
	}
	warns = append(warns, r.Warnings...)
	if len(warns) > 0 {
		b.WriteString("\nWARNINGS\n")
		for _, x := range warns {
			b.WriteString("  " + x + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func nsCount(n, total int, all bool) string {
	s := fmt.Sprintf("%d/%d", n, total)
	if all {
		s += " (all pods)"
	}
	return s
}

func isoString(i Isolation) string {
	switch {
	case !i.Isolated:
		return "open"
	case i.DenyAll:
		return "deny all (" + strings.Join(i.Policies, ", ") + ")"
	}
	return "isolated (" + strings.Join(i.Policies, ", ") + ")"
}
