package netpol

import "strings"

// CoverageReport is the isolation of every namespace and workload.
type CoverageReport struct {
	// Namespaces are sorted by name.
	Namespaces []NamespaceCoverage `json:"namespaces"`
	// Workloads are sorted by namespace, kind and name.
	Workloads []WorkloadCoverage `json:"workloads"`
	// Warnings are problems with the policies themselves.
	Warnings []string `json:"warnings,omitempty"`
}

// NamespaceCoverage summarises one namespace.
type NamespaceCoverage struct {
	// Namespace is the namespace's name.
	Namespace string `json:"namespace"`
	// Policies are the namespace's NetworkPolicies.
	Policies []string `json:"policies"`
	// Workloads counts its workloads; IngressIsolated and EgressIsolated
	// count those isolated for each direction.
	Workloads       int `json:"workloads"`
	IngressIsolated int `json:"ingressIsolated"`
	EgressIsolated  int `json:"egressIsolated"`
	// AllIngress and AllEgress are set when a policy with an empty
	// podSelector isolates every pod of the namespace, present and future,
	// for that direction (a default deny).
	AllIngress bool `json:"allPodsIngressIsolated"`
	AllEgress  bool `json:"allPodsEgressIsolated"`
}

// WorkloadCoverage is one workload's isolation.
type WorkloadCoverage struct {
	// Workload is namespace/kind/name.
	Workload string `json:"workload"`
	// Ingress and Egress are the directions' isolation.
	Ingress Isolation `json:"ingress"`
	Egress  Isolation `json:"egress"`
	// Warnings are problems such as blocked DNS.
	Warnings []string `json:"warnings,omitempty"`
}

// Isolation says whether a direction is isolated and by which policies.
type Isolation struct {
	// Isolated is set when some policy selects the pods for the direction:
	// only what its rules allow passes.
	Isolated bool `json:"isolated"`
	// Policies are those policies.
	Policies []string `json:"policies,omitempty"`
	// DenyAll is set when none of those policies has a rule: nothing passes.
	DenyAll bool `json:"denyAll,omitempty"`
}

// Coverage reports isolation for the namespaces selected by keep (every
// namespace when keep is nil).
func (m *Model) Coverage(keep func(ns string) bool) *CoverageReport {
	rep := &CoverageReport{Namespaces: []NamespaceCoverage{}, Workloads: []WorkloadCoverage{}}
	for _, ns := range m.NamespaceNames() {
		if keep != nil && !keep(ns) {
			continue
		}
		nc := NamespaceCoverage{Namespace: ns, Policies: []string{}}
		for _, p := range m.PoliciesIn(ns) {
			nc.Policies = append(nc.Policies, p.Name)
			if len(p.PodSelector) == 0 {
				nc.AllIngress = nc.AllIngress || p.Ingress
				nc.AllEgress = nc.AllEgress || p.Egress
			}
		}
		for _, w := range m.WorkloadsIn(ns) {
			wc := WorkloadCoverage{Workload: w.ID(), Ingress: m.isolation(w, false), Egress: m.isolation(w, true)}
			nc.Workloads++
			if wc.Ingress.Isolated {
				nc.IngressIsolated++
			}
			if wc.Egress.Isolated {
				nc.EgressIsolated++
				wc.Warnings = m.DNSProblems(w)
			}
			rep.Workloads = append(rep.Workloads, wc)
		}
		rep.Namespaces = append(rep.Namespaces, nc)
	}
	for _, wrn := range m.Warnings {
		if keep == nil || keep(warningNamespace(wrn)) {
			rep.Warnings = append(rep.Warnings, wrn)
		}
	}
	return rep
}

func (m *Model) isolation(w *Workload, egress bool) Isolation {
	iso := Isolation{DenyAll: true}
	for _, p := range m.Policies {
		if (egress && !p.Egress) || (!egress && !p.Ingress) || !p.Selects(w) {
			continue
		}
		iso.Isolated = true
		iso.Policies = append(iso.Policies, p.Name)
		rules := p.IngressRules
		if egress {
			rules = p.EgressRules
		}
		if len(rules) > 0 {
			iso.DenyAll = false
		}
	}
	iso.DenyAll = iso.DenyAll && iso.Isolated
	return iso
}

// warningNamespace returns the namespace of a policy warning
// ("NetworkPolicy ns/name path: ...").
func warningNamespace(w string) string {
	w = strings.TrimPrefix(w, "NetworkPolicy ")
	ns, _, _ := strings.Cut(w, "/")
	return ns
}
