package netpol

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// DefaultNamespace is the namespace of objects that declare none: kubectl
// applies them to the current namespace, "default" unless configured.
const DefaultNamespace = "default"

// NamespaceNameLabel is the label the API server sets on every Namespace
// (since Kubernetes 1.21) to its own name; namespaceSelectors commonly use it.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// Protocols are the protocols NetworkPolicy ports can name, in output order.
var Protocols = []string{"TCP", "UDP", "SCTP"}

// Model is what the analysis reads: namespaces with their labels, workloads
// with their pod labels and ports, NetworkPolicies and Services.
type Model struct {
	// Namespaces maps every namespace seen (declared or used by an object)
	// to its labels, including kubernetes.io/metadata.name.
	Namespaces map[string]map[string]string
	// Workloads are the pod-bearing objects, sorted by namespace, kind, name.
	Workloads []*Workload
	// Policies are the NetworkPolicies, sorted by namespace and name.
	Policies []*Policy
	// Services are the Services, sorted by namespace and name.
	Services []*Service
	// Warnings describe malformed policy parts, which match nothing.
	Warnings []string
}

// Workload is a pod-bearing object; its pods share its template's labels
// and ports.
type Workload struct {
	// Namespace, Kind and Name identify the workload.
	Namespace, Kind, Name string
	// Labels are the pod template's labels.
	Labels map[string]string
	// Ports are the containers' declared ports.
	Ports []k8s.Port
	// Source is where the workload was read from.
	Source k8s.Source
	// Synthetic marks a stand-in pod that no object declares (an
	// unlabelled pod of an empty namespace, or kube-dns).
	Synthetic bool
}

// ID returns namespace/kind/name.
func (w *Workload) ID() string { return w.Namespace + "/" + w.Kind + "/" + w.Name }

// Policy is one NetworkPolicy with its defaults applied.
type Policy struct {
	// Namespace and Name identify the policy.
	Namespace, Name string
	// Source is where the policy was read from.
	Source k8s.Source
	// PodSelector selects the pods of Namespace the policy applies to.
	PodSelector map[string]any
	// Ingress and Egress are the effective policyTypes.
	Ingress, Egress bool
	// IngressRules and EgressRules are spec.ingress and spec.egress.
	IngressRules, EgressRules []Rule
}

// ID returns namespace/name.
func (p *Policy) ID() string { return p.Namespace + "/" + p.Name }

// Selects reports whether the policy applies to w.
func (p *Policy) Selects(w *Workload) bool {
	return p.Namespace == w.Namespace && k8s.MatchLabelSelector(p.PodSelector, w.Labels)
}

// Rule is one ingress or egress rule.
type Rule struct {
	// Index is the rule's position in spec.ingress or spec.egress.
	Index int
	// AllPeers is set when from/to is empty or missing: every source or
	// destination matches.
	AllPeers bool
	// Peers are the from/to entries (OR).
	Peers []Peer
	// AllPorts is set when ports is empty or missing.
	AllPorts bool
	// Ports are the ports entries (OR).
	Ports []PortRule
	// Line is the rule's line in its file, 0 if unknown.
	Line int
}

// Peer is one from/to entry. Selectors present together are ANDed.
type Peer struct {
	// PodSelector is nil when absent.
	PodSelector map[string]any
	// NamespaceSelector is nil when absent.
	NamespaceSelector map[string]any
	// Block is the ipBlock, nil when absent.
	Block *Block
	// Invalid is set (with the reason) for peers the API server rejects;
	// they match nothing.
	Invalid string
}

// Block is an ipBlock: CIDR minus Except.
type Block struct {
	// CIDR is the block.
	CIDR netip.Prefix
	// Except are the excluded ranges.
	Except []netip.Prefix
}

// String renders the block as in the policy.
func (b *Block) String() string {
	s := b.CIDR.String()
	if len(b.Except) > 0 {
		ex := make([]string, len(b.Except))
		for i, e := range b.Except {
			ex[i] = e.String()
		}
		s += " except " + strings.Join(ex, ",")
	}
	return s
}

// PortRule is one ports entry.
type PortRule struct {
	// Protocol is TCP, UDP or SCTP (TCP by default).
	Protocol string
	// AnyPort is set when port is missing: every port of Protocol.
	AnyPort bool
	// Port is the numeric port (0 for a named port).
	Port int32
	// EndPort ends the range Port..EndPort (0 when absent).
	EndPort int32
	// Name is the named port ("" for numeric ports).
	Name string
}

// String renders the entry as PORT[-END]/PROTO or NAME/PROTO.
func (p PortRule) String() string {
	switch {
	case p.AnyPort:
		return "all/" + p.Protocol
	case p.Name != "":
		return p.Name + "/" + p.Protocol
	case p.EndPort > p.Port:
		return fmt.Sprintf("%d-%d/%s", p.Port, p.EndPort, p.Protocol)
	}
	return fmt.Sprintf("%d/%s", p.Port, p.Protocol)
}

// Service is a Service's selector and ports.
type Service struct {
	// Namespace and Name identify the Service.
	Namespace, Name string
	// Type is spec.type (ClusterIP by default).
	Type string
	// Selector is spec.selector.
	Selector map[string]string
	// Ports are spec.ports.
	Ports []ServicePort
}

// ServicePort is one Service port.
type ServicePort struct {
	// Name is the port's name.
	Name string
	// Protocol is TCP, UDP or SCTP.
	Protocol string
	// Port is the Service port.
	Port int32
	// TargetPort is the pod port: a number or a container port name. It
	// defaults to Port.
	TargetPort string
}

// podKinds are the workload kinds of the analysis (PodTemplate runs nothing).
var podKinds = map[string]bool{
	"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true,
	"ReplicationController": true, "Job": true, "CronJob": true,
}

// FromInventory builds the model of an inventory.
func FromInventory(inv *k8s.Inventory) *Model {
	m := &Model{Namespaces: map[string]map[string]string{}}
	seeNS := func(ns string) {
		if _, ok := m.Namespaces[ns]; !ok {
			m.Namespaces[ns] = map[string]string{NamespaceNameLabel: ns}
		}
	}
	for _, e := range inv.Entries() {
		ns := e.Ref.Namespace
		if ns == "" && !k8s.IsClusterScoped(e.Ref.Kind) {
			ns = DefaultNamespace
		}
		switch {
		case e.Ref.Kind == "Namespace":
			labels := map[string]string{}
			for k, v := range e.Labels {
				labels[k] = v
			}
			labels[NamespaceNameLabel] = e.Ref.Name
			m.Namespaces[e.Ref.Name] = labels
		case e.Ref.Kind == "NetworkPolicy" && e.Ref.APIVersion == "networking.k8s.io/v1":
			seeNS(ns)
			m.Policies = append(m.Policies, m.parsePolicy(ns, e))
		case e.Ref.Kind == "Service" && e.Ref.APIVersion == "v1":
			seeNS(ns)
			m.Services = append(m.Services, parseService(ns, e.Ref.Name, k8s.Map(e.Content(), "spec")))
		case e.Pod != nil && podKinds[e.Ref.Kind]:
			seeNS(ns)
			m.Workloads = append(m.Workloads, &Workload{
				Namespace: ns, Kind: e.Ref.Kind, Name: e.Ref.Name,
				Labels: e.Pod.Labels, Ports: e.Pod.Ports, Source: e.Source,
			})
		}
	}
	sort.SliceStable(m.Workloads, func(i, j int) bool { return m.Workloads[i].ID() < m.Workloads[j].ID() })
	sort.SliceStable(m.Policies, func(i, j int) bool { return m.Policies[i].ID() < m.Policies[j].ID() })
	sort.SliceStable(m.Services, func(i, j int) bool {
		a, b := m.Services[i], m.Services[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return m
}

// parsePolicy reads a NetworkPolicy and applies the API server's defaults:
// policyTypes is [Ingress] plus Egress when spec.egress is non-empty, a
// port's protocol is TCP, a missing podSelector selects every pod.
func (m *Model) parsePolicy(ns string, e *k8s.Entry) *Policy {
	spec := k8s.Map(e.Content(), "spec")
	p := &Policy{Namespace: ns, Name: e.Ref.Name, Source: e.Source, PodSelector: k8s.Map(spec, "podSelector")}
	if p.PodSelector == nil {
		p.PodSelector = map[string]any{}
	}
	types := k8s.Strings(spec, "policyTypes")
	if len(types) == 0 {
		p.Ingress = true
		p.Egress = len(k8s.Slice(spec, "egress")) > 0
	}
	for _, t := range types {
		switch t {
		case "Ingress":
			p.Ingress = true
		case "Egress":
			p.Egress = true
		default:
			m.warnf(p, "spec.policyTypes", "unknown policy type %q ignored", t)
		}
	}
	for _, d := range [][2]string{{"ingress", "from"}, {"egress", "to"}} {
		dir, peersKey := d[0], d[1]
		var rules []Rule
		for i, item := range k8s.Slice(spec, dir) {
			path := k8s.Index("spec."+dir, i)
			rm, _ := item.(map[string]any)
			r := Rule{Index: i, Line: e.Line(path)}
			peers := k8s.Slice(rm, peersKey)
			r.AllPeers = len(peers) == 0
			for j, pi := range peers {
				pm, _ := pi.(map[string]any)
				peer := parsePeer(pm)
				if peer.Invalid != "" {
					m.warnf(p, k8s.Index(path+"."+peersKey, j), "%s; the peer matches nothing", peer.Invalid)
				}
				r.Peers = append(r.Peers, peer)
			}
			ports := k8s.Slice(rm, "ports")
			r.AllPorts = len(ports) == 0
			for j, pi := range ports {
				pm, _ := pi.(map[string]any)
				pr, err := parsePort(pm)
				if err != nil {
					m.warnf(p, k8s.Index(path+".ports", j), "%v; the entry matches nothing", err)
					continue
				}
				r.Ports = append(r.Ports, pr)
			}
			rules = append(rules, r)
		}
		if dir == "ingress" {
			p.IngressRules = rules
		} else {
			p.EgressRules = rules
		}
	}
	return p
}

func (m *Model) warnf(p *Policy, path, format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf("NetworkPolicy %s %s: %s", p.ID(), path, fmt.Sprintf(format, args...)))
}

// parsePeer reads one from/to entry. As the API server requires, an ipBlock
// excludes selectors and a peer needs at least one field.
func parsePeer(pm map[string]any) Peer {
	peer := Peer{PodSelector: k8s.Map(pm, "podSelector"), NamespaceSelector: k8s.Map(pm, "namespaceSelector")}
	// A present but null or empty selector is the empty selector.
	if peer.PodSelector == nil && k8s.Has(pm, "podSelector") {
		peer.PodSelector = map[string]any{}
	}
	if peer.NamespaceSelector == nil && k8s.Has(pm, "namespaceSelector") {
		peer.NamespaceSelector = map[string]any{}
	}
	if bm := k8s.Map(pm, "ipBlock"); bm != nil {
		if peer.PodSelector != nil || peer.NamespaceSelector != nil {
			peer.Invalid = "ipBlock together with a selector is invalid"
			return peer
		}
		b, err := parseBlock(bm)
		if err != nil {
			peer.Invalid = err.Error()
			return peer
		}
		peer.Block = b
		return peer
	}
	if peer.PodSelector == nil && peer.NamespaceSelector == nil {
		peer.Invalid = "peer without podSelector, namespaceSelector or ipBlock is invalid"
	}
	return peer
}

func parseBlock(bm map[string]any) (*Block, error) {
	cidr, err := netip.ParsePrefix(k8s.Str(bm, "cidr"))
	if err != nil {
		return nil, fmt.Errorf("ipBlock.cidr %q is not a CIDR", k8s.Str(bm, "cidr"))
	}
	b := &Block{CIDR: cidr.Masked()}
	for _, s := range k8s.Strings(bm, "except") {
		ex, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("ipBlock.except %q is not a CIDR", s)
		}
		b.Except = append(b.Except, ex.Masked())
	}
	return b, nil
}

// parsePort reads one ports entry.
func parsePort(pm map[string]any) (PortRule, error) {
	pr := PortRule{Protocol: strings.ToUpper(k8s.Str(pm, "protocol"))}
	if pr.Protocol == "" {
		pr.Protocol = "TCP"
	}
	if !validProtocol(pr.Protocol) {
		return pr, fmt.Errorf("unknown protocol %q", k8s.Str(pm, "protocol"))
	}
	switch v := pm["port"].(type) {
	case nil:
		pr.AnyPort = true
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			pr.Port = int32(n)
		} else {
			pr.Name = v
		}
	default:
		n, ok := k8s.Int(pm, "port")
		if !ok {
			return pr, fmt.Errorf("port %v is neither a number nor a name", v)
		}
		pr.Port = int32(n)
	}
	if pr.Name == "" && !pr.AnyPort && (pr.Port < 1 || pr.Port > 65535) {
		return pr, fmt.Errorf("port %d is out of range", pr.Port)
	}
	if end, ok := k8s.Int(pm, "endPort"); ok {
		switch {
		case pr.Name != "" || pr.AnyPort:
			return pr, fmt.Errorf("endPort needs a numeric port")
		case end < int64(pr.Port) || end > 65535:
			return pr, fmt.Errorf("endPort %d is out of range", end)
		}
		pr.EndPort = int32(end)
	}
	return pr, nil
}

func validProtocol(p string) bool {
	for _, x := range Protocols {
		if p == x {
			return true
		}
	}
	return false
}

func parseService(ns, name string, spec map[string]any) *Service {
	s := &Service{Namespace: ns, Name: name, Type: k8s.Str(spec, "type"), Selector: k8s.StringMap(spec, "selector")}
	if s.Type == "" {
		s.Type = "ClusterIP"
	}
	for _, item := range k8s.Slice(spec, "ports") {
		pm, _ := item.(map[string]any)
		n, ok := k8s.Int(pm, "port")
		if !ok || n < 1 || n > 65535 {
			continue
		}
		sp := ServicePort{Name: k8s.Str(pm, "name"), Protocol: strings.ToUpper(k8s.Str(pm, "protocol")), Port: int32(n)}
		if sp.Protocol == "" {
			sp.Protocol = "TCP"
		}
		switch tp := pm["targetPort"].(type) {
		case string:
			sp.TargetPort = tp
		case nil:
		default:
			if t, ok := k8s.Int(pm, "targetPort"); ok && t > 0 {
				sp.TargetPort = strconv.FormatInt(t, 10)
			}
		}
		if sp.TargetPort == "" {
			sp.TargetPort = strconv.Itoa(int(n))
		}
		s.Ports = append(s.Ports, sp)
	}
	return s
}

// NamespaceLabels returns the labels of namespace ns: those declared, or
// only kubernetes.io/metadata.name for namespaces no object declares.
func (m *Model) NamespaceLabels(ns string) map[string]string {
	if l, ok := m.Namespaces[ns]; ok {
		return l
	}
	return map[string]string{NamespaceNameLabel: ns}
}

// NamespaceNames returns every namespace, sorted.
func (m *Model) NamespaceNames() []string {
	out := make([]string, 0, len(m.Namespaces))
	for ns := range m.Namespaces {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// PoliciesIn returns the policies of namespace ns.
func (m *Model) PoliciesIn(ns string) []*Policy {
	var out []*Policy
	for _, p := range m.Policies {
		if p.Namespace == ns {
			out = append(out, p)
		}
	}
	return out
}

// WorkloadsIn returns the workloads of namespace ns.
func (m *Model) WorkloadsIn(ns string) []*Workload {
	var out []*Workload
	for _, w := range m.Workloads {
		if w.Namespace == ns {
			out = append(out, w)
		}
	}
	return out
}

// Workload finds a workload by namespace/kind/name (kind case-insensitive).
func (m *Model) Workload(ns, kind, name string) *Workload {
	for _, w := range m.Workloads {
		if w.Namespace == ns && strings.EqualFold(w.Kind, kind) && w.Name == name {
			return w
		}
	}
	return nil
}

// matchSel matches a label selector; an empty selector matches everything.
func matchSel(sel map[string]any, labels map[string]string) bool {
	return k8s.MatchLabelSelector(sel, labels)
}
