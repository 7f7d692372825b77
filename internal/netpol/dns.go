package netpol

import (
	"net/netip"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// DNS server defaults: CoreDNS as kubeadm and most distributions deploy it.
const (
	// DNSNamespace is the DNS server's namespace.
	DNSNamespace = "kube-system"
	// DNSLabelKey is the label key of the DNS server's pods.
	DNSLabelKey = "k8s-app"
	// DNSLabelValue is the label value of the DNS server's pods.
	DNSLabelValue = "kube-dns"
)

// KubeDNS returns the cluster DNS server: the first kube-system workload
// labelled k8s-app=kube-dns, or a stand-in CoreDNS Deployment with that
// label and ports dns (53/UDP) and dns-tcp (53/TCP) when the input holds
// none.
func (m *Model) KubeDNS() *Workload {
	for _, w := range m.WorkloadsIn(DNSNamespace) {
		if w.Labels[DNSLabelKey] == DNSLabelValue {
			return w
		}
	}
	return &Workload{
		Namespace: DNSNamespace, Kind: "Deployment", Name: "coredns", Synthetic: true,
		Labels: map[string]string{DNSLabelKey: DNSLabelValue},
		Ports: []k8s.Port{
			{Name: "dns", Port: 53, Protocol: "UDP"},
			{Name: "dns-tcp", Port: 53, Protocol: "TCP"},
			{Name: "metrics", Port: 9153, Protocol: "TCP"},
		},
	}
}

// DNSProblems returns warnings when w is egress-isolated and its egress
// rules do not allow DNS: port 53 to kube-dns, or port 53 to some ipBlock
// (a node-local or external resolver). Nothing when w is not
// egress-isolated.
func (m *Model) DNSProblems(w *Workload) []string {
	dns := m.KubeDNS()
	side := m.EvalSide(w, true, Endpoint{Workload: dns})
	if !side.Isolated {
		return nil
	}
	ext4 := m.EvalSide(w, true, Endpoint{CIDR: netip.MustParsePrefix("0.0.0.0/0")})
	ext6 := m.EvalSide(w, true, Endpoint{CIDR: netip.MustParsePrefix("::/0")})
	ok := func(proto string) bool {
		return segmentAt(side.Segments, proto, 53).Coverage == Full ||
			segmentAt(ext4.Segments, proto, 53).Coverage != None ||
			segmentAt(ext6.Segments, proto, 53).Coverage != None
	}
	udp, tcp := ok("UDP"), ok("TCP")
	ids := make([]string, len(side.Policies))
	for i, p := range side.Policies {
		ids[i] = p.ID()
	}
	by := " (egress-isolated by " + strings.Join(ids, ", ") + ")"
	switch {
	case !udp && !tcp:
		return []string{"DNS is blocked: no egress rule allows UDP or TCP port 53 to kube-dns (" + DNSNamespace + " pods labelled " + DNSLabelKey + "=" + DNSLabelValue + ")" + by + "; name resolution fails"}
	case !tcp:
		return []string{"DNS over TCP is blocked: egress allows UDP 53 but not TCP 53 to kube-dns" + by + "; truncated (large) DNS answers fail"}
	case !udp:
		return []string{"DNS over UDP is blocked: egress allows TCP 53 but not UDP 53 to kube-dns" + by + "; resolvers try UDP first and lookups time out"}
	}
	return nil
}
