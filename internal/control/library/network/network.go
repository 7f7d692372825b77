// Package network holds the NetworkPolicy controls: workloads that no
// NetworkPolicy isolates for ingress (a cross-object control over the whole
// inventory) and NetworkPolicy rules that allow all traffic.
//
// Only networking.k8s.io NetworkPolicy objects are considered; CNI-specific
// policies (CiliumNetworkPolicy, Calico NetworkPolicy/GlobalNetworkPolicy)
// are not read, so workloads isolated only by those are reported.
package network

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Group is the NetworkPolicy API group.
const Group = "networking.k8s.io"

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

func logic() []*control.Control {
	return []*control.Control{
		{Metadata: control.Metadata{ID: "missing-network-policy"}, Cross: missingPolicy},
		{
			Metadata: control.Metadata{ID: "network-policy-allow-all"},
			Kinds:    []string{"NetworkPolicy"},
			Match:    func(o *k8s.Object) bool { return o.Group() == Group },
			Check:    allowAll,
		},
	}
}

// PolicyTypes returns a NetworkPolicy spec's effective policy types, with
// Kubernetes' defaulting: when policyTypes is absent or empty it is
// ["Ingress"], plus "Egress" when the policy has egress rules.
func PolicyTypes(spec map[string]any) (ingress, egress bool) {
	if types := k8s.Strings(spec, "policyTypes"); len(types) > 0 {
		for _, t := range types {
			switch t {
			case "Ingress":
				ingress = true
			case "Egress":
				egress = true
			}
		}
		return ingress, egress
	}
	return true, len(k8s.Slice(spec, "egress")) > 0
}

// ingressPolicy is the part of a NetworkPolicy missingPolicy needs.
type ingressPolicy struct {
	selector map[string]any
}

// missingPolicy reports every workload whose pods no NetworkPolicy of their
// namespace selects for ingress. PodTemplate objects are not workloads and
// are skipped. Objects without a namespace form their own bucket.
func missingPolicy(cc *control.CrossContext) {
	byNS := map[string][]ingressPolicy{}
	seen := map[string]bool{}
	for _, e := range cc.Inv.Kind("NetworkPolicy") {
		content := e.Content()
		if content == nil || !strings.HasPrefix(k8s.Str(content, "apiVersion"), Group+"/") {
			continue
		}
		spec := k8s.Map(content, "spec")
		if in, _ := PolicyTypes(spec); !in {
			continue
		}
		sel := k8s.Map(spec, "podSelector")
		if sel == nil {
			// podSelector is required; written as null or omitted it means
			// the same as {} to the API server's defaulting of an empty struct.
			sel = map[string]any{}
		}
		key := selectorKey(sel)
		if seen[e.Ref.Namespace+"\x00"+key] {
			continue // an identical selector in the namespace decides the same
		}
		seen[e.Ref.Namespace+"\x00"+key] = true
		byNS[e.Ref.Namespace] = append(byNS[e.Ref.Namespace], ingressPolicy{selector: sel})
	}
	// Workloads with the same labels in a namespace share the verdict.
	verdicts := map[string]bool{}
	for _, e := range cc.Inv.Workloads() {
		if e.Ref.Kind == "PodTemplate" {
			continue
		}
		cc.Evaluate(e)
		vkey := e.Ref.Namespace + "\x00" + labelsKey(e.Pod.Labels)
		covered, known := verdicts[vkey]
		if !known {
			for _, p := range byNS[e.Ref.Namespace] {
				if k8s.MatchLabelSelector(p.selector, e.Pod.Labels) {
					covered = true
					break
				}
			}
			verdicts[vkey] = covered
		}
		if covered {
			continue
		}
		ns := e.Ref.Namespace
		if ns == "" {
			ns = "(none)"
		}
		msg := "no NetworkPolicy in namespace " + ns + " selects these pods for ingress: every pod in the cluster can connect to them"
		if len(e.Pod.Labels) == 0 {
			msg = "pods have no labels and no namespace-wide NetworkPolicy in namespace " + ns + " selects them for ingress: every pod in the cluster can connect to them"
		}
		cc.Fail(e, control.Violation{Path: e.Pod.MetaPath + ".labels", Message: msg})
	}
}

// labelsKey renders a label set canonically.
func labelsKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// selectorKey renders a label selector canonically (encoding/json sorts
// map keys); selectors that do not encode get a unique key.
func selectorKey(sel map[string]any) string {
	b, err := json.Marshal(sel)
	if err != nil {
		return fmt.Sprintf("%p", sel)
	}
	return string(b)
}

// allowAll flags ingress and egress rules that allow traffic from or to
// everywhere on every port. A rule restricted to ports is a deliberate
// exposure of those ports and passes; so does an ipBlock /0 with except
// ranges (the usual "internet but not the cluster network" egress).
func allowAll(c *control.Context) {
	spec := k8s.Map(c.Obj.Content, "spec")
	in, out := PolicyTypes(spec)
	if in {
		checkRules(c, spec, "ingress", "from", "source")
	}
	if out {
		checkRules(c, spec, "egress", "to", "destination")
	}
}

func checkRules(c *control.Context, spec map[string]any, field, peers, what string) {
	for i, it := range k8s.Slice(spec, field) {
		rule, _ := it.(map[string]any)
		path := k8s.Index("spec."+field, i)
		if len(k8s.Slice(rule, "ports")) > 0 {
			continue
		}
		ps := k8s.Slice(rule, peers)
		if len(ps) == 0 {
			c.Failf(path, "", "%s rule %d has no %q peers and no ports: it allows every %s on every port", field, i, peers, what)
			continue
		}
		for j, p := range ps {
			peer, _ := p.(map[string]any)
			if why := everything(peer); why != "" {
				c.Failf(k8s.Index(path+"."+peers, j), "", "%s rule %d allows %s on every port", field, i, why)
				break
			}
		}
	}
}

// everything says how a peer selects every endpoint, or "" if it does not.
func everything(peer map[string]any) string {
	if len(peer) == 0 {
		return "an empty peer (everything)"
	}
	if ns := k8s.Map(peer, "namespaceSelector"); ns != nil && isEmptySelector(ns) {
		if pod, ok := peer["podSelector"]; !ok || pod == nil || isEmptySelector(k8s.Map(peer, "podSelector")) {
			return "every pod in every namespace"
		}
	}
	if ib := k8s.Map(peer, "ipBlock"); ib != nil && len(k8s.Slice(ib, "except")) == 0 {
		if pfx, err := netip.ParsePrefix(strings.TrimSpace(k8s.Str(ib, "cidr"))); err == nil && pfx.Bits() == 0 {
			return "every address (" + pfx.String() + ")"
		}
	}
	return ""
}

// isEmptySelector reports whether a label selector selects everything.
func isEmptySelector(sel map[string]any) bool {
	return len(k8s.Map(sel, "matchLabels")) == 0 && len(k8s.Slice(sel, "matchExpressions")) == 0
}
