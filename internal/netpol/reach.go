package netpol

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// maxPort is the highest port number.
const maxPort = 65535

// Endpoint is one end of a connection: the pods of a workload, or an
// address range outside the cluster.
type Endpoint struct {
	// Workload is set for pod endpoints.
	Workload *Workload
	// CIDR is the address range of an external endpoint (Workload nil).
	CIDR netip.Prefix
}

// String names the endpoint.
func (e Endpoint) String() string {
	if e.Workload != nil {
		return e.Workload.ID()
	}
	return e.CIDR.String()
}

// RuleRef names one rule of a policy.
type RuleRef struct {
	// Policy holds the rule.
	Policy *Policy
	// Egress is set for spec.egress rules.
	Egress bool
	// Index is the rule's position.
	Index int
}

// String renders the rule as namespace/name ingress[i].
func (r RuleRef) String() string {
	dir := "ingress"
	if r.Egress {
		dir = "egress"
	}
	return fmt.Sprintf("%s %s[%d]", r.Policy.ID(), dir, r.Index)
}

// Segment is a range of ports of one protocol and how much of the peer
// endpoint may use it.
type Segment struct {
	// Protocol is TCP, UDP or SCTP.
	Protocol string
	// Lo and Hi bound the ports, inclusive.
	Lo, Hi int32
	// Coverage is how much of the peer is allowed.
	Coverage Coverage
	// Rules are the rules that allow it; none when the side is not isolated.
	Rules []RuleRef
}

// PortString renders the segment's ports as PORT[-HI]/PROTO or all/PROTO.
func (s Segment) PortString() string {
	switch {
	case s.Lo == 1 && s.Hi == maxPort:
		return "all/" + s.Protocol
	case s.Lo == s.Hi:
		return strconv.Itoa(int(s.Lo)) + "/" + s.Protocol
	}
	return fmt.Sprintf("%d-%d/%s", s.Lo, s.Hi, s.Protocol)
}

// Side is one direction's verdict: the egress of the source or the
// ingress of the destination.
type Side struct {
	// Pod is the workload whose policies decide.
	Pod *Workload
	// Egress is set for the source's egress side.
	Egress bool
	// Isolated is set when some policy of the pod's namespace selects it
	// for this direction.
	Isolated bool
	// Policies are those policies.
	Policies []*Policy
	// Segments cover every port of every protocol.
	Segments []Segment
	// skipped are the ports of rules whose only matching chance was an
	// ipBlock peer, skipped because the peer is a pod.
	skipped []portRange
}

// grant is a rule's allowance: ports of a protocol for all of the peer
// (all) or for the addresses addrs of an external peer.
type grant struct {
	proto  string
	lo, hi int32
	all    bool
	addrs  ipSet
	rule   RuleRef
}

// EvalSide evaluates the direction of pod towards peer: the egress side
// (egress true; peer is the destination) or the ingress side (peer is the
// source). Named ports resolve against the destination: peer for egress,
// pod for ingress.
func (m *Model) EvalSide(pod *Workload, egress bool, peer Endpoint) Side {
	side := Side{Pod: pod, Egress: egress}
	dst := pod
	if egress {
		dst = peer.Workload
	}
	var grants []grant
	for _, p := range m.Policies {
		if (egress && !p.Egress) || (!egress && !p.Ingress) || !p.Selects(pod) {
			continue
		}
		side.Isolated = true
		side.Policies = append(side.Policies, p)
		rules := p.IngressRules
		if egress {
			rules = p.EgressRules
		}
		for _, r := range rules {
			all, addrs, hasBlock := m.peerMatch(p, r, peer)
			if !all && len(addrs) == 0 {
				if hasBlock && peer.Workload != nil {
					side.skipped = append(side.skipped, resolvePorts(r, dst)...)
				}
				continue
			}
			for _, pr := range resolvePorts(r, dst) {
				grants = append(grants, grant{proto: pr.Protocol, lo: pr.Lo, hi: pr.Hi, all: all, addrs: addrs,
					rule: RuleRef{Policy: p, Egress: egress, Index: r.Index}})
			}
		}
	}
	if !side.Isolated {
		side.Segments = allSegments(Full)
		return side
	}
	var target addrRange
	if peer.Workload == nil {
		target = prefixRange(peer.CIDR)
	}
	for _, proto := range Protocols {
		var mine []grant
		var bounds []int32
		for _, g := range grants {
			if g.proto == proto {
				mine = append(mine, g)
				bounds = append(bounds, g.lo, g.hi+1)
			}
		}
		for _, iv := range elementary(bounds) {
			seg := Segment{Protocol: proto, Lo: iv[0], Hi: iv[1]}
			var addrs ipSet
			for _, g := range mine {
				if g.lo > iv[0] || g.hi < iv[1] {
					continue
				}
				seg.Rules = appendRule(seg.Rules, g.rule)
				if g.all {
					seg.Coverage = Full
				}
				for _, r := range g.addrs {
					addrs = addrs.union(r)
				}
			}
			if seg.Coverage != Full && peer.Workload == nil && len(addrs) > 0 {
				seg.Coverage = addrs.covers(target)
			}
			if seg.Coverage == None {
				seg.Rules = nil
			}
			side.Segments = append(side.Segments, seg)
		}
	}
	side.Segments = mergeSegments(side.Segments)
	return side
}

// peerMatch reports whether rule r of p matches all of peer, or which of
// its addresses (external peers), and whether the rule has ipBlock peers.
// Pod endpoints never match ipBlock peers; external endpoints never match
// selectors.
func (m *Model) peerMatch(p *Policy, r Rule, peer Endpoint) (all bool, addrs ipSet, hasBlock bool) {
	if r.AllPeers {
		return true, nil, false
	}
	for _, pe := range r.Peers {
		if pe.Invalid != "" {
			continue
		}
		if pe.Block != nil {
			hasBlock = true
			if peer.Workload == nil && peer.CIDR.Addr().Is4() == pe.Block.CIDR.Addr().Is4() {
				for _, x := range blockSet(pe.Block) {
					addrs = addrs.union(x)
				}
			}
			continue
		}
		w := peer.Workload
		if w == nil {
			continue
		}
		if pe.NamespaceSelector == nil {
			if w.Namespace == p.Namespace && matchSel(pe.PodSelector, w.Labels) {
				return true, nil, hasBlock
			}
			continue
		}
		if matchSel(pe.NamespaceSelector, m.NamespaceLabels(w.Namespace)) &&
			(pe.PodSelector == nil || matchSel(pe.PodSelector, w.Labels)) {
			return true, nil, hasBlock
		}
	}
	return false, addrs, hasBlock
}

// portRange is a resolved range of ports of one protocol.
type portRange struct {
	Protocol string
	Lo, Hi   int32
}

// resolvePorts returns the ports a rule allows towards dst. Named ports
// resolve against dst's container ports of the same name and protocol;
// they match nothing towards external destinations.
func resolvePorts(r Rule, dst *Workload) []portRange {
	if r.AllPorts {
		out := make([]portRange, 0, len(Protocols))
		for _, proto := range Protocols {
			out = append(out, portRange{proto, 1, maxPort})
		}
		return out
	}
	var out []portRange
	for _, pr := range r.Ports {
		switch {
		case pr.AnyPort:
			out = append(out, portRange{pr.Protocol, 1, maxPort})
		case pr.Name != "":
			if dst == nil {
				continue
			}
			for _, cp := range dst.Ports {
				if cp.Name == pr.Name && cp.Protocol == pr.Protocol {
					out = append(out, portRange{pr.Protocol, cp.Port, cp.Port})
				}
			}
		default:
			hi := max(pr.EndPort, pr.Port)
			out = append(out, portRange{pr.Protocol, pr.Port, hi})
		}
	}
	return out
}

// elementary splits 1..65535 at bounds (each the first port of a new
// interval) into inclusive intervals.
func elementary(bounds []int32) [][2]int32 {
	bounds = append(bounds, 1, maxPort+1)
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	var out [][2]int32
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]-1
		if lo < 1 || hi < lo || lo > maxPort {
			continue
		}
		out = append(out, [2]int32{lo, hi})
	}
	return out
}

func allSegments(c Coverage) []Segment {
	out := make([]Segment, 0, len(Protocols))
	for _, proto := range Protocols {
		out = append(out, Segment{Protocol: proto, Lo: 1, Hi: maxPort, Coverage: c})
	}
	return out
}

func appendRule(rules []RuleRef, r RuleRef) []RuleRef {
	for _, x := range rules {
		if x == r {
			return rules
		}
	}
	return append(rules, r)
}

func sameRules(a, b []RuleRef) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// mergeSegments joins adjacent segments with equal coverage and rules.
func mergeSegments(segs []Segment) []Segment {
	var out []Segment
	for _, s := range segs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Protocol == s.Protocol && last.Hi+1 == s.Lo && last.Coverage == s.Coverage && sameRules(last.Rules, s.Rules) {
				last.Hi = s.Hi
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// combine intersects the two sides of a connection: traffic passes where
// both allow it. Rules are those of both sides.
func combine(a, b []Segment) []Segment {
	var out []Segment
	for _, proto := range Protocols {
		var bounds []int32
		for _, s := range append(append([]Segment{}, a...), b...) {
			if s.Protocol == proto {
				bounds = append(bounds, s.Lo, s.Hi+1)
			}
		}
		for _, iv := range elementary(bounds) {
			sa, sb := segmentAt(a, proto, iv[0]), segmentAt(b, proto, iv[0])
			seg := Segment{Protocol: proto, Lo: iv[0], Hi: iv[1], Coverage: min(sa.Coverage, sb.Coverage)}
			if seg.Coverage != None {
				seg.Rules = append(append([]RuleRef{}, sa.Rules...), sb.Rules...)
			}
			out = append(out, seg)
		}
	}
	return mergeSegments(out)
}

// segmentAt returns the segment holding port of proto.
func segmentAt(segs []Segment, proto string, port int32) Segment {
	for _, s := range segs {
		if s.Protocol == proto && s.Lo <= port && port <= s.Hi {
			return s
		}
	}
	return Segment{Protocol: proto, Lo: port, Hi: port}
}

// Query is a --port argument: a port number or name, and a protocol.
type Query struct {
	// Port is the number (0 when Name is set).
	Port int32
	// Name is a container port name.
	Name string
	// Protocol is TCP, UDP or SCTP; empty means TCP for numbers and the
	// container port's own protocol for names.
	Protocol string
}

// ParseQuery parses PORT[/PROTO] where PORT is a number or a name.
func ParseQuery(s string) (*Query, error) {
	port, proto, _ := strings.Cut(s, "/")
	q := &Query{Protocol: strings.ToUpper(proto)}
	if proto != "" && !validProtocol(q.Protocol) {
		return nil, fmt.Errorf("unknown protocol %q (want TCP, UDP or SCTP)", proto)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 1 || n > maxPort {
			return nil, fmt.Errorf("port %d is out of range 1-65535", n)
		}
		q.Port = int32(n)
		if q.Protocol == "" {
			q.Protocol = "TCP"
		}
		return q, nil
	}
	if port == "" {
		return nil, fmt.Errorf("empty port")
	}
	q.Name = port
	return q, nil
}

// String renders the query.
func (q *Query) String() string {
	p := q.Name
	if p == "" {
		p = strconv.Itoa(int(q.Port))
	}
	if q.Protocol == "" {
		return p
	}
	return p + "/" + q.Protocol
}

// resolve returns the numeric port and protocol of q towards dst.
func (q *Query) resolve(dst *Workload) (int32, string, error) {
	if q.Name == "" {
		return q.Port, q.Protocol, nil
	}
	if dst == nil {
		return 0, "", fmt.Errorf("named port %q needs a workload destination", q.Name)
	}
	for _, cp := range dst.Ports {
		if cp.Name == q.Name && (q.Protocol == "" || cp.Protocol == q.Protocol) {
			return cp.Port, cp.Protocol, nil
		}
	}
	return 0, "", fmt.Errorf("%s declares no container port named %q", dst.ID(), q.Name)
}

// Connection is the verdict on traffic from one endpoint to another.
type Connection struct {
	// From and To are the endpoints.
	From, To Endpoint
	// Query is the port asked about; nil means any port.
	Query *Query
	// Port and Protocol are the resolved query (0 without a query).
	Port     int32
	Protocol string
	// Verdict is allowed (Full), partial or denied (None). Without a query
	// it is allowed when every port is, denied when none is.
	Verdict Coverage
	// Egress is the source's side (nil for an external source), Ingress the
	// destination's (nil for an external destination).
	Egress, Ingress *Side
	// Allowed are the ports that pass both sides (coverage not None).
	Allowed []Segment
	// Notes explain the verdict's limits and problems (DNS).
	Notes []string
}

// Reach evaluates traffic from src to dst. At least one endpoint must be
// a workload.
func (m *Model) Reach(src, dst Endpoint, q *Query) (*Connection, error) {
	if src.Workload == nil && dst.Workload == nil {
		return nil, fmt.Errorf("traffic between two external addresses does not cross the cluster's NetworkPolicies")
	}
	c := &Connection{From: src, To: dst, Query: q}
	segs := allSegments(Full)
	if src.Workload != nil {
		s := m.EvalSide(src.Workload, true, dst)
		c.Egress = &s
		segs = combine(segs, s.Segments)
	}
	if dst.Workload != nil {
		s := m.EvalSide(dst.Workload, false, src)
		c.Ingress = &s
		segs = combine(segs, s.Segments)
	}
	for _, s := range segs {
		if s.Coverage != None {
			c.Allowed = append(c.Allowed, s)
		}
	}
	if q != nil {
		port, proto, err := q.resolve(dst.Workload)
		if err != nil {
			c.Verdict = None
			c.Notes = append(c.Notes, err.Error())
			c.Allowed = nil
			return c, nil
		}
		c.Port, c.Protocol = port, proto
		c.Verdict = segmentAt(segs, proto, port).Coverage
	} else {
		c.Verdict = overall(segs)
	}
	for _, s := range []*Side{c.Egress, c.Ingress} {
		if s != nil && c.ipBlockSkipped(s) {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: rules with ipBlock peers were not applied to the pod peer (pod IPs are unknown to Rampart); network plugins that match pod IPs against ipBlock may allow more", sideName(s)))
		}
	}
	if src.Workload != nil && c.Egress.Isolated {
		c.Notes = append(c.Notes, m.DNSProblems(src.Workload)...)
	}
	return c, nil
}

func sideName(s *Side) string {
	if s.Egress {
		return "egress of " + s.Pod.ID()
	}
	return "ingress of " + s.Pod.ID()
}

// ipBlockSkipped reports whether a side did not fully allow the queried
// traffic while an ipBlock rule for those ports was skipped.
func (c *Connection) ipBlockSkipped(s *Side) bool {
	if v, _ := c.SideVerdict(s); v == Full {
		return false
	}
	for _, r := range s.skipped {
		if c.Query == nil || (r.Protocol == c.Protocol && r.Lo <= c.Port && c.Port <= r.Hi) {
			return true
		}
	}
	return false
}

// overall is Full when every segment is, None when none allows anything.
func overall(segs []Segment) Coverage {
	allFull, any := true, false
	for _, s := range segs {
		if s.Coverage != Full {
			allFull = false
		}
		if s.Coverage != None {
			any = true
		}
	}
	switch {
	case allFull:
		return Full
	case any:
		return Partial
	}
	return None
}

// SideVerdict is the side's verdict for the connection's query (any port
// without a query) and the rules that decide it.
func (c *Connection) SideVerdict(s *Side) (Coverage, []RuleRef) {
	if c.Query != nil {
		if c.Protocol == "" {
			return None, nil
		}
		seg := segmentAt(s.Segments, c.Protocol, c.Port)
		return seg.Coverage, seg.Rules
	}
	var rules []RuleRef
	for _, seg := range s.Segments {
		for _, r := range seg.Rules {
			rules = appendRule(rules, r)
		}
	}
	return overall(s.Segments), rules
}
