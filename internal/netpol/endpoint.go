package netpol

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseEndpoint resolves a FROM or TO argument: a CIDR or an IP address
// (an external endpoint), ns/kind/name (a workload), or a namespace (every
// workload of it, or an unlabelled stand-in pod when it has none).
func (m *Model) ParseEndpoint(s string) ([]Endpoint, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return []Endpoint{{CIDR: p.Masked()}}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return []Endpoint{{CIDR: netip.PrefixFrom(a, a.BitLen())}}, nil
	}
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 3:
		if w := m.Workload(parts[0], parts[1], parts[2]); w != nil {
			return []Endpoint{{Workload: w}}, nil
		}
		return nil, fmt.Errorf("no workload %s in the input", s)
	case 1:
		if s == "" {
			return nil, fmt.Errorf("empty endpoint")
		}
		if _, ok := m.Namespaces[s]; !ok {
			return nil, fmt.Errorf("no namespace %q in the input", s)
		}
		ws := m.WorkloadsIn(s)
		if len(ws) == 0 {
			return []Endpoint{{Workload: &Workload{Namespace: s, Kind: "Pod", Name: "*", Labels: map[string]string{}, Synthetic: true}}}, nil
		}
		out := make([]Endpoint, len(ws))
		for i, w := range ws {
			out[i] = Endpoint{Workload: w}
		}
		return out, nil
	}
	return nil, fmt.Errorf("endpoint %q is neither NAMESPACE, NAMESPACE/KIND/NAME nor a CIDR", s)
}
