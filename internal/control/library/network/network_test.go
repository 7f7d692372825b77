package network

import (
	"reflect"
	"sort"
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
)

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: api, tier: backend}
    spec:
      containers: [{name: c, image: nginx}]
`

func policy(ns, spec string) string {
	return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: " + ns + "}\nspec:\n" + spec
}

func TestMissingNetworkPolicy(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		evaluated int
		failed    []string // "Kind/name path"
	}{
		{"no policy", deploy, 1, []string{"Deployment/api spec.template.metadata.labels"}},
		{"namespace-wide default deny", deploy + policy("shop", "  podSelector: {}\n"), 1, nil},
		{"podSelector omitted", deploy + policy("shop", "  policyTypes: [Ingress]\n"), 1, nil},
		{"matching labels", deploy + policy("shop", "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{podSelector: {}}]}]\n"), 1, nil},
		{"matchExpressions", deploy + policy("shop", "  podSelector: {matchExpressions: [{key: tier, operator: In, values: [backend]}]}\n"), 1, nil},
		{"other labels", deploy + policy("shop", "  podSelector: {matchLabels: {app: web}}\n"), 1, []string{"Deployment/api spec.template.metadata.labels"}},
		{"other namespace", deploy + policy("web", "  podSelector: {}\n"), 1, []string{"Deployment/api spec.template.metadata.labels"}},
		{"egress only", deploy + policy("shop", "  podSelector: {}\n  policyTypes: [Egress]\n"), 1, []string{"Deployment/api spec.template.metadata.labels"}},
		{"defaulted types with egress still include ingress", deploy + policy("shop", "  podSelector: {}\n  egress: [{}]\n"), 1, nil},
		{"explicit both types", deploy + policy("shop", "  podSelector: {}\n  policyTypes: [Egress, Ingress]\n"), 1, nil},
		{"empty namespace matches empty namespace",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n", 1, nil},
		{"empty namespace does not match named",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec: {containers: [{name: c, image: x}]}\n" + policy("shop", "  podSelector: {}\n"), 1, []string{"Pod/p metadata.labels"}},
		{"pod template is not a workload",
			"apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t, namespace: shop}\ntemplate:\n  spec: {containers: [{name: c, image: x}]}\n", 0, nil},
		{"policy of another API group ignored", deploy + "---\napiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec: {podSelector: {}}\n", 1, []string{"Deployment/api spec.template.metadata.labels"}},
		{"two workloads, one covered", deploy + "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: job, namespace: shop}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: job}}\n        spec: {containers: [{name: c, image: x}]}\n" + policy("shop", "  podSelector: {matchLabels: {app: api}}\n"),
			2, []string{"CronJob/job spec.jobTemplate.spec.template.metadata.labels"}},
	}
	ctl := controltest.ByID(t, Controls, "missing-network-policy")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := controltest.Cross(t, ctl, controltest.Decode(t, tt.doc))
			if len(cc.Evaluated) != tt.evaluated {
				t.Errorf("evaluated %d entries, want %d", len(cc.Evaluated), tt.evaluated)
			}
			got := controltest.CrossFindings(cc, cc.Inv.Entries())
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.failed) {
				t.Errorf("failed = %q, want %q", got, tt.failed)
			}
		})
	}
}

func TestAllowAll(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"empty ingress rule", "  podSelector: {}\n  ingress: [{}]\n", []string{"spec.ingress[0]"}},
		{"empty from list", "  podSelector: {}\n  ingress: [{from: []}]\n", []string{"spec.ingress[0]"}},
		{"ports restrict rule", "  podSelector: {}\n  ingress: [{ports: [{port: 80}]}]\n", nil},
		{"all namespaces all pods", "  podSelector: {}\n  ingress: [{from: [{podSelector: {matchLabels: {a: b}}}, {namespaceSelector: {}, podSelector: {}}]}]\n", []string{"spec.ingress[0].from[1]"}},
		{"all namespaces, no podSelector", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n", []string{"spec.ingress[0].from[0]"}},
		{"all pods of own namespace", "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n", nil},
		{"all namespaces, some pods", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: prom}}}]}]\n", nil},
		{"selected namespaces", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: a}}}]}]\n", nil},
		{"ipv4 anywhere", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n", []string{"spec.ingress[0].from[0]"}},
		{"ipv6 anywhere", "  podSelector: {}\n  ingress: [{}, {from: [{ipBlock: {cidr: '::/0'}}]}]\n", []string{"spec.ingress[0]", "spec.ingress[1].from[0]"}},
		{"anywhere with except", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]}]\n", nil},
		{"narrow cidr", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n", nil},
		{"egress all, defaulted type", "  podSelector: {}\n  egress: [{}]\n", []string{"spec.egress[0]"}},
		{"egress anywhere", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n", []string{"spec.egress[0].to[0]"}},
		{"egress ignored when type excluded", "  podSelector: {}\n  policyTypes: [Ingress]\n  egress: [{}]\n", nil},
		{"ingress ignored when type excluded", "  podSelector: {}\n  policyTypes: [Egress]\n  ingress: [{}]\n", nil},
		{"default deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n", nil},
	}
	ctl := controltest.ByID(t, Controls, "network-policy-allow-all")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := controltest.Decode(t, policy("shop", tt.spec))
			if len(objs) != 1 || !ctl.Applies(objs[0]) {
				t.Fatalf("control does not apply")
			}
			got := controltest.Paths(controltest.Run(t, ctl, objs[0]))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paths = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPolicyTypes(t *testing.T) {
	tests := []struct {
		name        string
		spec        map[string]any
		wantIn, out bool
	}{
		{"absent, no egress", map[string]any{}, true, false},
		{"absent, egress rules", map[string]any{"egress": []any{map[string]any{}}}, true, true},
		{"explicit egress only", map[string]any{"policyTypes": []any{"Egress"}}, false, true},
		{"explicit empty list is defaulted", map[string]any{"policyTypes": []any{}, "egress": []any{map[string]any{}}}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out := PolicyTypes(tt.spec)
			if in != tt.wantIn || out != tt.out {
				t.Errorf("PolicyTypes = %v,%v, want %v,%v", in, out, tt.wantIn, tt.out)
			}
		})
	}
}
