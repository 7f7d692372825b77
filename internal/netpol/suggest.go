package netpol

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Suggested is one suggested NetworkPolicy and why.
type Suggested struct {
	// Why explains the policy; it becomes a YAML comment.
	Why string
	// Policy is the NetworkPolicy.
	Policy NetworkPolicy
}

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy in the field order
// of the API documentation.
type NetworkPolicy struct {
	APIVersion string     `yaml:"apiVersion" json:"apiVersion"`
	Kind       string     `yaml:"kind" json:"kind"`
	Metadata   ObjectMeta `yaml:"metadata" json:"metadata"`
	Spec       PolicySpec `yaml:"spec" json:"spec"`
}

// ObjectMeta is the metadata of a suggested policy.
type ObjectMeta struct {
	Name      string `yaml:"name" json:"name"`
	Namespace string `yaml:"namespace" json:"namespace"`
}

// PolicySpec is a NetworkPolicy spec.
type PolicySpec struct {
	PodSelector LabelSelector `yaml:"podSelector" json:"podSelector"`
	PolicyTypes []string      `yaml:"policyTypes" json:"policyTypes"`
	Ingress     []PolicyRule  `yaml:"ingress,omitempty" json:"ingress,omitempty"`
	Egress      []PolicyRule  `yaml:"egress,omitempty" json:"egress,omitempty"`
}

// LabelSelector is a matchLabels selector; empty selects everything.
type LabelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels,omitempty" json:"matchLabels,omitempty"`
}

// PolicyRule is an ingress (From) or egress (To) rule.
type PolicyRule struct {
	From  []PolicyPeer `yaml:"from,omitempty" json:"from,omitempty"`
	To    []PolicyPeer `yaml:"to,omitempty" json:"to,omitempty"`
	Ports []PolicyPort `yaml:"ports,omitempty" json:"ports,omitempty"`
}

// PolicyPeer is a from/to entry.
type PolicyPeer struct {
	NamespaceSelector *LabelSelector `yaml:"namespaceSelector,omitempty" json:"namespaceSelector,omitempty"`
	PodSelector       *LabelSelector `yaml:"podSelector,omitempty" json:"podSelector,omitempty"`
}

// PolicyPort is a ports entry; Port is an int or a port name.
type PolicyPort struct {
	Protocol string `yaml:"protocol" json:"protocol"`
	Port     any    `yaml:"port" json:"port"`
}

// Suggest returns policies for namespace ns: a default deny of ingress and
// egress for every pod, DNS egress to kube-dns, ingress to every selecting
// Service's target ports (from any pod of the cluster for ClusterIP
// Services, from anywhere for NodePort and LoadBalancer Services), and
// egress from the namespace's pods to its own Services' pods on the same
// ports. Traffic the manifests do not reveal (calls to other namespaces or
// outside the cluster) stays denied until rules are added for it.
func (m *Model) Suggest(ns string) []Suggested {
	out := []Suggested{
		{
			Why: "Deny all ingress and egress for every pod of " + ns + "; the policies below allow what is needed.",
			Policy: newPolicy(ns, "default-deny-all", LabelSelector{}, PolicySpec{
				PolicyTypes: []string{"Ingress", "Egress"},
			}),
		},
		{
			Why: "Allow DNS: UDP and TCP 53 to kube-dns (" + DNSNamespace + " pods labelled " + DNSLabelKey + "=" + DNSLabelValue + ").",
			Policy: newPolicy(ns, "allow-dns-egress", LabelSelector{}, PolicySpec{
				PolicyTypes: []string{"Egress"},
				Egress: []PolicyRule{{
					To: []PolicyPeer{{
						NamespaceSelector: &LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: DNSNamespace}},
						PodSelector:       &LabelSelector{MatchLabels: map[string]string{DNSLabelKey: DNSLabelValue}},
					}},
					Ports: []PolicyPort{{Protocol: "UDP", Port: 53}, {Protocol: "TCP", Port: 53}},
				}},
			}),
		},
	}
	var toServices []PolicyRule
	var svcNames []string
	for _, s := range m.Services {
		if s.Namespace != ns || len(s.Selector) == 0 || len(s.Ports) == 0 {
			continue
		}
		ports := servicePorts(s)
		rule := PolicyRule{Ports: ports}
		from := "any pod of the cluster"
		switch s.Type {
		case "NodePort", "LoadBalancer":
			from = "anywhere (the Service is exposed outside the cluster)"
		default:
			rule.From = []PolicyPeer{{NamespaceSelector: &LabelSelector{}}}
		}
		out = append(out, Suggested{
			Why: fmt.Sprintf("Allow ingress to the pods of %s Service %s on its target ports, from %s.", s.Type, s.Name, from),
			Policy: newPolicy(ns, "allow-ingress-"+s.Name, LabelSelector{MatchLabels: s.Selector}, PolicySpec{
				PolicyTypes: []string{"Ingress"},
				Ingress:     []PolicyRule{rule},
			}),
		})
		toServices = append(toServices, PolicyRule{
			To:    []PolicyPeer{{PodSelector: &LabelSelector{MatchLabels: s.Selector}}},
			Ports: ports,
		})
		svcNames = append(svcNames, s.Name)
	}
	if len(toServices) > 0 {
		out = append(out, Suggested{
			Why: "Allow the pods of " + ns + " to reach the namespace's own Services (" + strings.Join(svcNames, ", ") + ") on their target ports.",
			Policy: newPolicy(ns, "allow-egress-to-namespace-services", LabelSelector{}, PolicySpec{
				PolicyTypes: []string{"Egress"},
				Egress:      toServices,
			}),
		})
	}
	return out
}

func newPolicy(ns, name string, sel LabelSelector, spec PolicySpec) NetworkPolicy {
	spec.PodSelector = sel
	return NetworkPolicy{
		APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
		Metadata: ObjectMeta{Name: name, Namespace: ns}, Spec: spec,
	}
}

// servicePorts returns a Service's target ports, deduplicated: numbers as
// ints, names as strings (named ports resolve on the pods).
func servicePorts(s *Service) []PolicyPort {
	var out []PolicyPort
	seen := map[string]bool{}
	for _, sp := range s.Ports {
		key := sp.Protocol + "/" + sp.TargetPort
		if seen[key] {
			continue
		}
		seen[key] = true
		var port any = sp.TargetPort
		if n, err := strconv.Atoi(sp.TargetPort); err == nil {
			port = n
		}
		out = append(out, PolicyPort{Protocol: sp.Protocol, Port: port})
	}
	return out
}

// SuggestYAML renders suggested policies as multi-document YAML, each
// document preceded by its reason as a comment.
func SuggestYAML(policies []Suggested) ([]byte, error) {
	var buf bytes.Buffer
	for i, s := range policies {
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.WriteString("# " + s.Why + "\n")
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(s.Policy); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
