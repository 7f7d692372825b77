package rbac

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// syntheticGraph builds a cluster of n roles and n bindings across 50
// namespaces: half ClusterRoles bound cluster-wide or per namespace, half
// Roles bound in their namespace, with realistic rule mixes.
func syntheticGraph(n int) *Graph {
	rng := rand.New(rand.NewPCG(1, 2))
	var b Builder
	resources := []string{"pods", "secrets", "configmaps", "services", "deployments", "jobs", "pods/exec", "pods/log", "*/scale", "ingresses", "networkpolicies", "*"}
	groups := []string{"", "apps", "batch", "networking.k8s.io", "*"}
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "*"}
	pick := func(xs []string) any { return xs[rng.IntN(len(xs))] }
	for i := range n {
		ns := fmt.Sprintf("ns-%d", i%50)
		var rules []any
		for range 1 + rng.IntN(6) {
			r := map[string]any{"apiGroups": []any{pick(groups)}, "resources": []any{pick(resources), pick(resources)}, "verbs": []any{pick(verbs), pick(verbs)}}
			if rng.IntN(8) == 0 {
				r["resourceNames"] = []any{"n1", "n2"}
			}
			rules = append(rules, r)
		}
		kind, meta := "Role", map[string]any{"name": fmt.Sprintf("role-%d", i), "namespace": ns}
		if i%2 == 0 {
			kind, meta = "ClusterRole", map[string]any{"name": fmt.Sprintf("role-%d", i)}
		}
		b.AddContent(map[string]any{"apiVersion": Group + "/v1", "kind": kind, "metadata": meta, "rules": rules}, k8s.Source{})
		subjects := []any{
			map[string]any{"kind": "ServiceAccount", "name": fmt.Sprintf("sa-%d", i), "namespace": ns},
			map[string]any{"kind": "User", "name": fmt.Sprintf("user-%d", rng.IntN(200))},
			map[string]any{"kind": "Group", "name": fmt.Sprintf("group-%d", rng.IntN(20))},
		}
		ref := map[string]any{"apiGroup": Group, "kind": kind, "name": fmt.Sprintf("role-%d", i)}
		bk, bm := "RoleBinding", map[string]any{"name": fmt.Sprintf("binding-%d", i), "namespace": ns}
		if kind == "ClusterRole" && i%10 == 0 {
			bk, bm = "ClusterRoleBinding", map[string]any{"name": fmt.Sprintf("binding-%d", i)}
		}
		b.AddContent(map[string]any{"apiVersion": Group + "/v1", "kind": bk, "metadata": bm, "roleRef": ref, "subjects": subjects}, k8s.Source{})
	}
	return b.Build()
}

// BenchmarkWhoCan answers who-can on a cluster of 2,000 roles and 2,000
// bindings once the graph is built: one namespaced query, one
// all-namespaces query and one cluster-wide query per iteration.
func BenchmarkWhoCan(b *testing.B) {
	g := syntheticGraph(2000)
	queries := []struct {
		req Request
		all bool
	}{
		{Request{Verb: "get", Resource: "secrets", Namespace: "ns-7"}, false},
		{Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{Request{Verb: "list", APIGroup: "apps", Resource: "deployments"}, false},
	}
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		n += len(g.WhoCan(q.req, q.all))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
	if n == 0 {
		b.Fatal("no subject found: the synthetic graph is wrong")
	}
}
