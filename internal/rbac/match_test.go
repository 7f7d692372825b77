package rbac

import (
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

func TestRuleAllows(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		req  Request
		want bool
	}{
		{"exact", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, Request{Verb: "get", Resource: "pods"}, true},
		{"other verb", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, Request{Verb: "list", Resource: "pods"}, false},
		{"wildcard verb", Rule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods"}}, Request{Verb: "deletecollection", Resource: "pods"}, true},
		{"other group", Rule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"pods"}}, Request{Verb: "get", Resource: "pods"}, false},
		{"wildcard group", Rule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"deployments"}}, Request{Verb: "get", APIGroup: "extensions", Resource: "deployments"}, true},
		{"wildcard resource", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"*"}}, Request{Verb: "get", Resource: "pods", Subresource: "exec"}, true},
		{"resource does not cover subresource", Rule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods"}}, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, false},
		{"subresource exact", Rule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{"subresource does not cover resource", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, Request{Verb: "get", Resource: "pods"}, false},
		{"star slash sub", Rule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale"}, true},
		{"star slash sub other sub", Rule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "status"}, false},
		{"star slash sub no sub", Rule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, Request{Verb: "update", APIGroup: "apps", Resource: "scale"}, false},
		{"pods/* is literal", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/*"}}, Request{Verb: "get", Resource: "pods", Subresource: "log"}, false},
		{"resourceNames match", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db"}}, Request{Verb: "get", Resource: "secrets", Name: "db"}, true},
		{"resourceNames other", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db"}}, Request{Verb: "get", Resource: "secrets", Name: "api"}, false},
		{"resourceNames deny unnamed list", Rule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db"}}, Request{Verb: "list", Resource: "secrets"}, false},
		{"no resourceNames allows named", Rule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}, Request{Verb: "get", Resource: "secrets", Name: "x"}, true},
		{"nonResourceURL exact", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, Request{Verb: "get", Path: "/healthz"}, true},
		{"nonResourceURL exact no prefix", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, Request{Verb: "get", Path: "/healthz/etcd"}, false},
		{"nonResourceURL prefix", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api/*"}}, Request{Verb: "get", Path: "/api/v1"}, true},
		{"nonResourceURL prefix needs slash", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api/*"}}, Request{Verb: "get", Path: "/api"}, false},
		{"nonResourceURL double star trimmed", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"/logs**"}}, Request{Verb: "get", Path: "/logsx"}, true},
		{"nonResourceURL star", Rule{Verbs: []string{"post"}, NonResourceURLs: []string{"*"}}, Request{Verb: "post", Path: "/anything"}, true},
		{"nonResource rule ignores resources", Rule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, Request{Verb: "get", Resource: "pods"}, false},
		{"resource rule ignores paths", Rule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, Request{Verb: "get", Path: "/healthz"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Allows(tt.req); got != tt.want {
				t.Errorf("%s allows %s = %v, want %v", tt.rule.String(), tt.req, got, tt.want)
			}
		})
	}
}

const graphYAML = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {agg: "yes"}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: mid, labels: {agg: "yes"}}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {mid: "yes"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: leaf, labels: {mid: "yes"}}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pods, labels: {agg: "yes"}}
rules:
- {apiGroups: [""], resources: [pods], verbs: [list]}
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg}
subjects:
- {kind: Group, name: devs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: local-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pods}
subjects:
- {kind: User, name: alice}
- {kind: ServiceAccount, name: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: all-sas, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm}
subjects:
- {kind: Group, name: "system:serviceaccounts:other"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm, namespace: team}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bad}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm}
subjects:
- {kind: User, name: mallory}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nsless-sa}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pods}
subjects:
- {kind: ServiceAccount, name: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: authenticated-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: nodes}
subjects:
- {kind: Group, name: "system:authenticated"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: nodes}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get]}
- {nonResourceURLs: [/healthz], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb-nodes, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: nodes}
subjects:
- {kind: User, name: bob}
`

func buildGraph(t testing.TB, yaml string) *Graph {
	t.Helper()
	var b Builder
	errs := load.Decode(load.Unit{File: "rbac.yaml"}, []byte(yaml), load.DefaultLimits, func(o *k8s.Object) { b.Add(o) })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return b.Build()
}

func TestAllowed(t *testing.T) {
	g := buildGraph(t, graphYAML)
	sa := func(ns, name string) Identity {
		return Subject{Kind: KindServiceAccount, Namespace: ns, Name: name}.Identity()
	}
	user := func(name string) Identity { return Subject{Kind: KindUser, Name: name}.Identity() }
	tests := []struct {
		name string
		id   Identity
		req  Request
		want bool
	}{
		{"aggregation replaces written rules", Identity{Groups: []string{"devs"}}, Request{Verb: "delete", APIGroup: "apps", Resource: "deployments", Namespace: "x"}, false},
		{"aggregation includes direct match", Identity{Groups: []string{"devs"}}, Request{Verb: "list", Resource: "pods", Namespace: "x"}, true},
		{"nested aggregation", Identity{Groups: []string{"devs"}}, Request{Verb: "get", Resource: "secrets"}, true},
		{"RoleBinding to ClusterRole in its namespace", user("alice"), Request{Verb: "list", Resource: "pods", Namespace: "team"}, true},
		{"RoleBinding to ClusterRole elsewhere", user("alice"), Request{Verb: "list", Resource: "pods", Namespace: "prod"}, false},
		{"RoleBinding to ClusterRole cluster-wide", user("alice"), Request{Verb: "list", Resource: "pods"}, false},
		{"SA without namespace takes the binding's", sa("team", "ci"), Request{Verb: "list", Resource: "pods", Namespace: "team"}, true},
		{"SA without namespace in ClusterRoleBinding matches nothing", sa("other", "ci"), Request{Verb: "list", Resource: "pods", Namespace: "other"}, false},
		{"SA namespace group", sa("other", "x"), Request{Verb: "get", Resource: "configmaps", Namespace: "team"}, true},
		{"SA namespace group other namespace", sa("third", "x"), Request{Verb: "get", Resource: "configmaps", Namespace: "team"}, false},
		{"ClusterRoleBinding to Role grants nothing", user("mallory"), Request{Verb: "get", Resource: "configmaps", Namespace: "team"}, false},
		{"authenticated group for users", user("zed"), Request{Verb: "get", Resource: "nodes"}, true},
		{"authenticated group for SAs", sa("a", "b"), Request{Verb: "get", Path: "/healthz"}, true},
		{"group-only identity is not authenticated", Identity{Groups: []string{"devs"}}, Request{Verb: "get", Resource: "nodes"}, false},
		{"RoleBinding cannot grant cluster-scoped", Identity{User: "bob"}, Request{Verb: "get", Resource: "nodes"}, false},
		{"RoleBinding cannot grant nonResourceURLs", Identity{User: "bob"}, Request{Verb: "get", Path: "/healthz"}, false},
		{"system:masters is superuser", Identity{User: "root", Groups: []string{Masters}}, Request{Verb: "escalate", APIGroup: Group, Resource: "clusterroles"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gr := g.Allowed(tt.id, tt.req)
			if got != tt.want {
				path := ""
				if gr != nil {
					path = gr.Path()
				}
				t.Errorf("Allowed(%v, %s) = %v (%s), want %v", tt.id, tt.req, got, path, tt.want)
			}
		})
	}
	if !strings.Contains(strings.Join(g.Problems, "\n"), "ClusterRoleBinding/bad references Role cm") {
		t.Errorf("problems do not report the ClusterRoleBinding to a Role: %q", g.Problems)
	}
}

func TestAggregationIdempotent(t *testing.T) {
	g := buildGraph(t, graphYAML)
	var b Builder
	for _, r := range g.Roles {
		c := map[string]any{"apiVersion": Group + "/v1", "kind": r.Kind, "metadata": map[string]any{"name": r.Name, "namespace": r.Namespace, "labels": toAny(r.Labels)}}
		var rules []any
		for _, x := range r.Rules {
			rules = append(rules, map[string]any{"verbs": strs(x.Verbs), "apiGroups": strs(x.APIGroups), "resources": strs(x.Resources)})
		}
		c["rules"] = rules
		if r.Aggregating {
			var sels []any
			for _, s := range r.Selectors {
				sels = append(sels, s)
			}
			c["aggregationRule"] = map[string]any{"clusterRoleSelectors": sels}
		}
		b.AddContent(c, k8s.Source{})
	}
	g2 := b.Build()
	for i, r := range g2.Roles {
		if len(r.Rules) != len(g.Roles[i].Rules) {
			t.Errorf("%s: %d rules after re-aggregation, want %d", r, len(r.Rules), len(g.Roles[i].Rules))
		}
	}
	var agg *Role
	for _, r := range g.Roles {
		if r.Name == "agg" {
			agg = r
		}
	}
	if agg == nil || len(agg.Rules) != 2 {
		t.Fatalf("agg rules = %v, want pods list + secrets get (deduplicated)", agg)
	}
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func strs(s []string) []any {
	out := []any{}
	for _, x := range s {
		out = append(out, x)
	}
	return out
}

func TestWhoCan(t *testing.T) {
	g := buildGraph(t, graphYAML)
	tests := []struct {
		name string
		req  Request
		all  bool
		want []string
	}{
		{"cluster-wide secrets", Request{Verb: "get", Resource: "secrets"}, false, []string{"group:system:masters", "group:devs"}},
		{"namespaced pods", Request{Verb: "list", Resource: "pods", Namespace: "team"}, false, []string{"group:system:masters", "group:devs", "user:alice", "sa:team:ci"}},
		{"all namespaces", Request{Verb: "list", Resource: "pods"}, true, []string{"group:system:masters", "group:devs", "user:alice", "sa:team:ci"}},
		{"non-resource", Request{Verb: "get", Path: "/healthz"}, false, []string{"group:system:masters", "group:system:authenticated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, gr := range g.WhoCan(tt.req, tt.all) {
				got = append(got, gr.Subject.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("WhoCan(%s) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{name: "sa", in: "sa:payments:ci-bot", want: "sa:payments:ci-bot"},
		{name: "username form", in: "system:serviceaccount:a:b", want: "sa:a:b"},
		{name: "user", in: "user:alice", want: "user:alice"},
		{name: "group with colon", in: "group:system:masters", want: "group:system:masters"},
		{name: "missing name", in: "sa:payments", err: true},
		{name: "unknown kind", in: "robot:x", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSubject(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err == nil && s.String() != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestRisks(t *testing.T) {
	g := buildGraph(t, graphYAML)
	rs := g.Risks()
	if len(rs) == 0 || rs[0].Subject.String() != "group:devs" {
		t.Fatalf("top risk = %+v, want group:devs (cluster-wide secrets)", rs)
	}
	if rs[0].Grants[0].Risks[0].ID != RiskSecretsRead || !rs[0].Grants[0].Risks[0].ClusterWide {
		t.Errorf("group:devs risk = %+v, want cluster-wide secrets-read", rs[0].Grants[0].Risks[0])
	}
	for _, r := range rs {
		if r.Subject.String() == "group:system:authenticated" {
			t.Errorf("get nodes and /healthz are not risky: %+v", r)
		}
	}
}
