package netpol

import (
	"slices"
	"strings"
	"testing"
)

// Policies from https://kubernetes.io/docs/concepts/services-networking/network-policies/
const (
	docTestNetworkPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
`
	docDefaultDenyIngress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
`
	docAllowAllIngress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-ingress
spec:
  podSelector: {}
  ingress:
  - {}
  policyTypes:
  - Ingress
`
	docDefaultDenyEgress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-egress
spec:
  podSelector: {}
  policyTypes:
  - Egress
`
	docAllowAllEgress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-egress
spec:
  podSelector: {}
  egress:
  - {}
  policyTypes:
  - Egress
`
	docDefaultDenyAll = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
`
	docEndPort = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: multi-port-egress
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
    - Egress
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24
      ports:
        - protocol: TCP
          port: 32000
          endPort: 32768
`
	docAnd = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          user: alice
      podSelector:
        matchLabels:
          role: client
`
	docOr = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          user: alice
    - podSelector:
        matchLabels:
          role: client
`
	namedPorts = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - ports:
    - port: redis
    - port: dns-like
      protocol: UDP
    - port: metrics
      protocol: UDP
`
	egressOnlyNoTypes = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-rules, namespace: default}
spec:
  podSelector: {matchLabels: {role: frontend}}
  egress:
  - to: [{podSelector: {matchLabels: {role: db}}}]
`
	emptyEgressNoTypes = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: empty-egress, namespace: default}
spec:
  podSelector: {matchLabels: {role: frontend}}
  egress: []
`
	splitBlocks = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: split, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/9}}]
    ports: [{port: 6379}]
  - from: [{ipBlock: {cidr: 10.128.0.0/9}}]
    ports: [{port: 6379}]
`
	dbPortRanges = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ranges, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - ports: [{port: 80}, {port: 8000, endPort: 9000}, {protocol: UDP}]
`
	frontendEgressToDB = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-egress, namespace: default}
spec:
  podSelector: {matchLabels: {role: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {role: db}}}]
    ports: [{port: 6379}]
`
	dnsUDPOnly = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-udp, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}]
`
	dnsBoth = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-both, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: dns-tcp, protocol: TCP}]
`
	dnsWrongNamespace = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-wrong, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
`
	dnsResolverBlock = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-nodelocal, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 169.254.20.10/32}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
`
)

func TestReach(t *testing.T) {
	tests := []struct {
		name     string
		policies []string
		from, to string
		port     string
		want     string
		// rules are the allowing rules of both sides, in order (optional).
		rules []string
	}{
		// test-network-policy: ingress from ipBlock (with except), a namespace, or pods of the namespace, on TCP 6379.
		{name: "doc example: podSelector peer", policies: []string{docTestNetworkPolicy}, from: "default/Pod/frontend", to: "default/Deployment/db", port: "6379", want: "allowed", rules: []string{"default/test-network-policy ingress[0]"}},
		{name: "doc example: other port", policies: []string{docTestNetworkPolicy}, from: "default/Pod/frontend", to: "default/Deployment/db", port: "6380", want: "denied"},
		{name: "doc example: UDP not TCP", policies: []string{docTestNetworkPolicy}, from: "default/Pod/frontend", to: "default/Deployment/db", port: "6379/UDP", want: "denied"},
		{name: "doc example: namespaceSelector peer", policies: []string{docTestNetworkPolicy}, from: "myproject-ns/Pod/any", to: "default/Deployment/db", port: "6379/TCP", want: "allowed"},
		{name: "doc example: podSelector alone is the policy's namespace", policies: []string{docTestNetworkPolicy}, from: "other/Pod/frontend", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "doc example: unselected pod", policies: []string{docTestNetworkPolicy}, from: "default/Pod/client", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "doc example: ipBlock address", policies: []string{docTestNetworkPolicy}, from: "172.17.0.5", to: "default/Deployment/db", port: "6379", want: "allowed"},
		{name: "doc example: ipBlock except", policies: []string{docTestNetworkPolicy}, from: "172.17.1.5/32", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "doc example: CIDR straddling the except", policies: []string{docTestNetworkPolicy}, from: "172.17.0.0/16", to: "default/Deployment/db", port: "6379", want: "partial"},
		{name: "doc example: outside ipBlock", policies: []string{docTestNetworkPolicy}, from: "172.16.0.1", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "doc example: egress to ipBlock", policies: []string{docTestNetworkPolicy}, from: "default/Deployment/db", to: "10.0.0.1", port: "5978", want: "allowed", rules: []string{"default/test-network-policy egress[0]"}},
		{name: "doc example: egress other port", policies: []string{docTestNetworkPolicy}, from: "default/Deployment/db", to: "10.0.0.1", port: "80", want: "denied"},
		{name: "doc example: egress outside block", policies: []string{docTestNetworkPolicy}, from: "default/Deployment/db", to: "10.0.1.1", port: "5978", want: "denied"},
		{name: "doc example: ipBlock never matches pods", policies: []string{docTestNetworkPolicy}, from: "default/Deployment/db", to: "default/Pod/frontend", port: "5978", want: "denied"},
		{name: "doc example: unselected pods are not isolated", policies: []string{docTestNetworkPolicy}, from: "default/Pod/client", to: "default/Pod/frontend", want: "allowed"},
		{name: "no policies: all allowed", from: "default/Pod/client", to: "default/Deployment/db", want: "allowed"},
		{name: "default deny ingress", policies: []string{docDefaultDenyIngress}, from: "default/Pod/client", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "default deny ingress leaves egress", policies: []string{docDefaultDenyIngress}, from: "default/Pod/client", to: "alice-ns/Pod/client", want: "allowed"},
		{name: "default deny ingress, external source", policies: []string{docDefaultDenyIngress}, from: "0.0.0.0/0", to: "default/Pod/client", want: "denied"},
		{name: "allow all ingress", policies: []string{docDefaultDenyIngress, docAllowAllIngress}, from: "8.8.8.8", to: "default/Deployment/db", port: "1/SCTP", want: "allowed"},
		{name: "default deny egress", policies: []string{docDefaultDenyEgress}, from: "default/Pod/client", to: "other/Pod/frontend", want: "denied"},
		{name: "default deny egress to the internet", policies: []string{docDefaultDenyEgress}, from: "default/Pod/client", to: "1.1.1.1", port: "443", want: "denied"},
		{name: "allow all egress", policies: []string{docDefaultDenyEgress, docAllowAllEgress}, from: "default/Pod/client", to: "::/0", want: "allowed"},
		{name: "default deny all", policies: []string{docDefaultDenyAll}, from: "default/Pod/client", to: "default/Deployment/db", want: "denied"},
		{name: "default deny all, other namespace unaffected", policies: []string{docDefaultDenyAll}, from: "alice-ns/Pod/client", to: "other/Pod/frontend", want: "allowed"},
		{name: "endPort: first port", policies: []string{docEndPort}, from: "default/Deployment/db", to: "10.0.0.7", port: "32000", want: "allowed"},
		{name: "endPort: last port", policies: []string{docEndPort}, from: "default/Deployment/db", to: "10.0.0.7", port: "32768/TCP", want: "allowed"},
		{name: "endPort: after the range", policies: []string{docEndPort}, from: "default/Deployment/db", to: "10.0.0.7", port: "32769", want: "denied"},
		{name: "endPort: before the range", policies: []string{docEndPort}, from: "default/Deployment/db", to: "10.0.0.7", port: "31999", want: "denied"},
		{name: "AND: pod in namespace", policies: []string{docAnd}, from: "alice-ns/Pod/client", to: "default/Deployment/db", want: "allowed"},
		{name: "AND: other pod in namespace", policies: []string{docAnd}, from: "alice-ns/Pod/other", to: "default/Deployment/db", want: "denied"},
		{name: "AND: matching pod elsewhere", policies: []string{docAnd}, from: "default/Pod/client", to: "default/Deployment/db", want: "denied"},
		{name: "OR: pod in namespace", policies: []string{docOr}, from: "alice-ns/Pod/client", to: "default/Deployment/db", want: "allowed"},
		{name: "OR: other pod in namespace", policies: []string{docOr}, from: "alice-ns/Pod/other", to: "default/Deployment/db", want: "allowed"},
		{name: "OR: matching pod of the policy namespace", policies: []string{docOr}, from: "default/Pod/client", to: "default/Deployment/db", want: "allowed"},
		{name: "OR: unmatched pod", policies: []string{docOr}, from: "default/Pod/frontend", to: "default/Deployment/db", want: "denied"},
		{name: "named port resolves on the destination", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "6379", want: "allowed"},
		{name: "named port query", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "redis", want: "allowed"},
		{name: "named UDP port", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "5353/UDP", want: "allowed"},
		{name: "named port protocol must match", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "9121", want: "denied"},
		{name: "unnamed port denied", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "80", want: "denied"},
		{name: "unknown named port query", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", port: "nope", want: "denied"},
		{name: "policyTypes default: egress rules add Egress", policies: []string{egressOnlyNoTypes}, from: "default/Pod/frontend", to: "default/Pod/client", want: "denied"},
		{name: "policyTypes default: Ingress always (no ingress rules: deny)", policies: []string{egressOnlyNoTypes}, from: "default/Pod/client", to: "default/Pod/frontend", want: "denied"},
		{name: "policyTypes default: egress allowed by rule", policies: []string{egressOnlyNoTypes}, from: "default/Pod/frontend", to: "default/Deployment/db", want: "allowed"},
		{name: "policyTypes default: empty egress list is no Egress", policies: []string{emptyEgressNoTypes}, from: "default/Pod/frontend", to: "default/Pod/client", want: "allowed"},
		{name: "union of ipBlocks covers a CIDR", policies: []string{splitBlocks}, from: "10.0.0.0/8", to: "default/Deployment/db", port: "6379", want: "allowed"},
		{name: "port ranges without a query", policies: []string{dbPortRanges}, from: "default/Pod/client", to: "default/Deployment/db", want: "partial"},
		{name: "both sides: egress denies", policies: []string{frontendEgressToDB, docDefaultDenyIngress, docAllowAllIngress}, from: "default/Pod/frontend", to: "default/Pod/client", port: "6379", want: "denied"},
		{name: "both sides: egress and ingress allow", policies: []string{frontendEgressToDB, docTestNetworkPolicy}, from: "default/Pod/frontend", to: "default/Deployment/db", port: "6379", want: "allowed", rules: []string{"default/frontend-egress egress[0]", "default/test-network-policy ingress[0]"}},
		{name: "both sides: ingress denies", policies: []string{frontendEgressToDB, docDefaultDenyIngress}, from: "default/Pod/frontend", to: "default/Deployment/db", port: "6379", want: "denied"},
		{name: "namespace endpoint: unlabelled stand-in", policies: []string{docAnd}, from: "default/Pod/client", to: "default/Deployment/db", want: "denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelOf(t, append([]string{world}, tt.policies...)...)
			if len(m.Warnings) > 0 {
				t.Fatalf("warnings: %v", m.Warnings)
			}
			c := reach(t, m, tt.from, tt.to, tt.port)
			if got := c.Verdict.String(); got != tt.want {
				t.Fatalf("verdict = %s, want %s (allowed %v, notes %v)", got, tt.want, c.Allowed, c.Notes)
			}
			if tt.rules != nil {
				var got []string
				for _, s := range []*Side{c.Egress, c.Ingress} {
					if s == nil {
						continue
					}
					_, rules := c.SideVerdict(s)
					for _, r := range rules {
						got = append(got, r.String())
					}
				}
				if !slices.Equal(got, tt.rules) {
					t.Errorf("rules = %q, want %q", got, tt.rules)
				}
			}
		})
	}
}

func TestReachAllowedPorts(t *testing.T) {
	tests := []struct {
		name     string
		policies []string
		from, to string
		want     []string
	}{
		{name: "ranges and a whole protocol", policies: []string{dbPortRanges}, from: "default/Pod/client", to: "default/Deployment/db", want: []string{"80/TCP", "8000-9000/TCP", "all/UDP"}},
		{name: "named ports", policies: []string{namedPorts}, from: "default/Pod/client", to: "default/Deployment/db", want: []string{"6379/TCP", "5353/UDP"}},
		{name: "partial CIDR", policies: []string{docTestNetworkPolicy}, from: "172.17.0.0/16", to: "default/Deployment/db", want: []string{"6379/TCP (partial)"}},
		{name: "intersection of both sides", policies: []string{frontendEgressToDB, dbPortRanges}, from: "default/Pod/frontend", to: "default/Deployment/db", want: []string{}},
		{name: "nothing isolated", from: "default/Pod/client", to: "default/Deployment/db", want: []string{"all/TCP", "all/UDP", "all/SCTP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelOf(t, append([]string{world}, tt.policies...)...)
			c := reach(t, m, tt.from, tt.to, "")
			rep := NewReachReport(tt.from, tt.to, nil, []*Connection{c})
			if got := rep.Connections[0].Allowed; !slices.Equal(got, tt.want) {
				t.Errorf("allowed = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDNS(t *testing.T) {
	tests := []struct {
		name     string
		policies []string
		workload string
		want     string // substring of the only warning; "" for none
	}{
		{name: "not egress-isolated", policies: []string{docDefaultDenyIngress}, workload: "default/Pod/client"},
		{name: "default deny egress breaks DNS", policies: []string{docDefaultDenyEgress}, workload: "default/Pod/client", want: "DNS is blocked"},
		{name: "egress to ipBlock only", policies: []string{docTestNetworkPolicy}, workload: "default/Deployment/db", want: "DNS is blocked"},
		{name: "UDP only", policies: []string{dnsUDPOnly}, workload: "default/Pod/client", want: "DNS over TCP is blocked"},
		{name: "UDP and named TCP port on kube-dns", policies: []string{dnsBoth}, workload: "default/Pod/client"},
		{name: "kube-dns selected in the wrong namespace", policies: []string{dnsWrongNamespace}, workload: "default/Pod/client", want: "DNS is blocked"},
		{name: "node-local resolver by ipBlock", policies: []string{dnsResolverBlock}, workload: "default/Pod/client"},
		{name: "allow all egress", policies: []string{docDefaultDenyEgress, docAllowAllEgress}, workload: "default/Pod/client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelOf(t, append([]string{world}, tt.policies...)...)
			ws, err := m.ParseEndpoint(tt.workload)
			if err != nil {
				t.Fatal(err)
			}
			got := m.DNSProblems(ws[0].Workload)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("warnings = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("warnings = %q, want one containing %q", got, tt.want)
			}
		})
	}
}
