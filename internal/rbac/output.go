package rbac

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// GrantView is a Grant as the CLI prints it.
type GrantView struct {
	// Subject is the subject, as user:NAME, group:NAME or sa:NS:NAME.
	Subject string `json:"subject"`
	// Scope is "cluster" for a ClusterRoleBinding (every namespace and the
	// cluster) or the RoleBinding's namespace.
	Scope string `json:"scope"`
	// Binding is the granting binding, like RoleBinding/ns/name; empty for
	// the superuser group.
	Binding string `json:"binding,omitempty"`
	// Role is the granted role, like ClusterRole/edit.
	Role string `json:"role,omitempty"`
	// Rule is the granting rule, formatted.
	Rule string `json:"rule,omitempty"`
	// RuleIndex is the rule's index in the role's effective rules.
	RuleIndex *int `json:"ruleIndex,omitempty"`
	// Aggregated is true when the role's rules come from aggregation.
	Aggregated bool `json:"aggregated,omitempty"`
	// Source is where the binding was read (file:line or cluster).
	Source string `json:"source,omitempty"`
	// Note explains grants outside RBAC (system:masters).
	Note string `json:"note,omitempty"`
	// Risks are the dangers of the permission (can and risks only).
	Risks []Risk `json:"risks,omitempty"`
	// Path is subject → binding → role → rule.
	Path string `json:"path"`
}

func source(s k8s.Source) string {
	if s.Line > 0 {
		return s.File + ":" + strconv.Itoa(s.Line)
	}
	return s.File
}

// View formats gr.
func View(gr *Grant, risks []Risk) GrantView {
	v := GrantView{Subject: gr.Subject.String(), Scope: "cluster", Path: gr.Path(), Risks: risks}
	if gr.Namespace != "" {
		v.Scope = gr.Namespace
	}
	if gr.Binding == nil {
		v.Note = SuperuserReason
		return v
	}
	v.Binding = gr.Binding.String()
	v.Source = source(gr.Binding.Source)
	if gr.Role != nil {
		v.Role = gr.Role.String()
		v.Aggregated = gr.Role.Aggregating
	}
	if gr.Rule != nil {
		i := gr.RuleIndex
		v.RuleIndex = &i
		v.Rule = gr.Rule.String()
	}
	return v
}

// WhoCanReport is the answer of who-can.
type WhoCanReport struct {
	// Request is the question.
	Request Request `json:"request"`
	// AllNamespaces is true when RoleBindings of every namespace were asked.
	AllNamespaces bool `json:"allNamespaces,omitempty"`
	// Subjects are the allowed subjects, with what grants them.
	Subjects []GrantView `json:"subjects"`
	// Problems are bindings that grant nothing (missing or invalid roles).
	Problems []string `json:"problems"`
}

// NewWhoCanReport asks g who can make req.
func NewWhoCanReport(g *Graph, req Request, allNamespaces bool) *WhoCanReport {
	r := &WhoCanReport{Request: req, AllNamespaces: allNamespaces, Subjects: []GrantView{}, Problems: nonNil(g.Problems)}
	for _, gr := range g.WhoCan(req, allNamespaces) {
		r.Subjects = append(r.Subjects, View(&gr, nil))
	}
	return r
}

// CanReport is the answer of can: one subject's effective permissions.
type CanReport struct {
	// Subject is the subject asked about.
	Subject string `json:"subject"`
	// Identity is the user name and groups the API server gives it.
	Identity Identity `json:"identity"`
	// Superuser is true for members of system:masters.
	Superuser bool `json:"superuser"`
	// Permissions are the subject's grants, rule by rule.
	Permissions []GrantView `json:"permissions"`
	// Risky counts the permissions with risks.
	Risky int `json:"risky"`
	// Problems are bindings that grant nothing.
	Problems []string `json:"problems"`
}

// NewCanReport lists the effective permissions of s (and extra groups of a
// user) in g.
func NewCanReport(g *Graph, s Subject, extraGroups []string) *CanReport {
	id := s.Identity()
	id.Groups = append(id.Groups, extraGroups...)
	r := &CanReport{Subject: s.String(), Identity: id, Superuser: id.Superuser(), Permissions: []GrantView{}, Problems: nonNil(g.Problems)}
	var grants []Grant
	if r.Superuser {
		grants = append(grants, Grant{Subject: Subject{Kind: KindGroup, Name: Masters}})
	}
	grants = append(grants, g.Permissions(id)...)
	for i := range grants {
		risks := RisksOf(&grants[i])
		if len(risks) > 0 {
			r.Risky++
		}
		r.Permissions = append(r.Permissions, View(&grants[i], risks))
	}
	return r
}

// RiskReport is the answer of risks.
type RiskReport struct {
	// Subjects are the subjects with risky permissions, worst first.
	Subjects []SubjectRiskView `json:"subjects"`
	// Problems are bindings that grant nothing.
	Problems []string `json:"problems"`
}

// SubjectRiskView is one subject of a RiskReport.
type SubjectRiskView struct {
	// Rank is the subject's position, from 1.
	Rank int `json:"rank"`
	// Subject is the subject.
	Subject string `json:"subject"`
	// Score is its worst risk's score (at most 100).
	Score int `json:"score"`
	// Grants are its risky grants, worst first.
	Grants []GrantView `json:"grants"`
}

// NewRiskReport ranks the subjects of g by risk.
func NewRiskReport(g *Graph) *RiskReport {
	r := &RiskReport{Subjects: []SubjectRiskView{}, Problems: nonNil(g.Problems)}
	for i, sr := range g.Risks() {
		v := SubjectRiskView{Rank: i + 1, Subject: sr.Subject.String(), Score: sr.Score}
		for _, rg := range sr.Grants {
			v.Grants = append(v.Grants, View(&rg.Grant, rg.Risks))
		}
		r.Subjects = append(r.Subjects, v)
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeProblems(w io.Writer, problems []string) {
	if len(problems) == 0 {
		return
	}
	fmt.Fprintln(w, "\nProblems:")
	for _, p := range problems {
		fmt.Fprintln(w, "  - "+p)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteWhoCanTable writes r as a table.
func WriteWhoCanTable(w io.Writer, r *WhoCanReport) error {
	q := r.Request.String()
	if r.AllNamespaces {
		q = strings.TrimSuffix(q, " (cluster-wide)") + " (in any namespace)"
	}
	fmt.Fprintf(w, "Who can %s:\n\n", q)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tSCOPE\tBINDING\tROLE\tRULE")
	for _, s := range r.Subjects {
		binding, role, rule := s.Binding, s.Role, s.Rule
		if s.Note != "" {
			binding, role, rule = "(none)", "(none)", s.Note
		} else if s.RuleIndex != nil {
			rule = fmt.Sprintf("rules[%d] %s", *s.RuleIndex, rule)
			if s.Aggregated {
				rule += " (aggregated)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Subject, s.Scope, binding, role, rule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeProblems(w, r.Problems)
	return nil
}

// WriteCanTable writes r as a table; risky permissions are marked "!".
func WriteCanTable(w io.Writer, r *CanReport) error {
	fmt.Fprintf(w, "Permissions of %s (user %q, groups %s):\n", r.Subject, r.Identity.User, strings.Join(r.Identity.Groups, ","))
	if r.Superuser {
		fmt.Fprintln(w, "  member of system:masters: allowed everything by the superuser authorizer, whatever RBAC says")
	}
	fmt.Fprintf(w, "%d permissions, %d risky\n\n", len(r.Permissions), r.Risky)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RISK\tSCOPE\tRULE\tBINDING\tROLE\tWHY")
	for _, p := range r.Permissions {
		mark, why := "", ""
		if len(p.Risks) > 0 {
			mark = "!"
			var rs []string
			for _, x := range p.Risks {
				rs = append(rs, x.Reason)
			}
			why = strings.Join(rs, "; ")
		}
		rule := p.Rule
		if p.Note != "" {
			rule = p.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dash(mark), p.Scope, rule, dash(p.Binding), dash(p.Role), dash(why))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeProblems(w, r.Problems)
	return nil
}

// WriteRiskTable writes r as a ranked list with the path of every risk.
func WriteRiskTable(w io.Writer, r *RiskReport) error {
	if len(r.Subjects) == 0 {
		fmt.Fprintln(w, "No subject holds a risky permission.")
	}
	for _, s := range r.Subjects {
		fmt.Fprintf(w, "%d. %s (score %d)\n", s.Rank, s.Subject, s.Score)
		for _, g := range s.Grants {
			for _, x := range g.Risks {
				fmt.Fprintf(w, "   - %s [%d]\n", x.Reason, x.Score)
			}
			fmt.Fprintf(w, "     path: %s\n", g.Path)
		}
	}
	writeProblems(w, r.Problems)
	return nil
}
