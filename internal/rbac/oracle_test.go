package rbac

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// oracleTuples is the number of random requests compared with the API
// server's SubjectAccessReview.
const oracleTuples = 1000

var gvrs = map[string]schema.GroupVersionResource{
	"Namespace":          {Version: "v1", Resource: "namespaces"},
	"ClusterRole":        {Group: Group, Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: Group, Version: "v1", Resource: "clusterrolebindings"},
	"Role":               {Group: Group, Version: "v1", Resource: "roles"},
	"RoleBinding":        {Group: Group, Version: "v1", Resource: "rolebindings"},
}

// applyFixture creates the objects of a YAML file as admin.
func applyFixture(t *testing.T, dyn dynamic.Interface, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*k8s.Object
	if errs := load.Decode(load.Unit{File: file}, data, load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) }); len(errs) > 0 {
		t.Fatalf("decoding %s: %v", file, errs)
	}
	for _, o := range objs {
		gvr, ok := gvrs[o.Kind()]
		if !ok {
			t.Fatalf("no resource for kind %s", o.Kind())
		}
		u := &unstructured.Unstructured{Object: o.Content}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := o.Namespace(); ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", o.Ref(), err)
		}
	}
}

// emulateAggregation does what kube-controller-manager's
// clusterrole-aggregation controller would do (the test environment runs no
// controller manager): for every ClusterRole with an aggregationRule, it
// writes the union of the rules of the other ClusterRoles its selectors
// match, as selected by the API server itself, in name order without
// duplicates; it repeats until nothing changes (nested aggregation).
func emulateAggregation(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("aggregation emulation did not settle")
		}
		list, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		changed := false
		for i := range list.Items {
			agg := &list.Items[i]
			if agg.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range agg.AggregationRule.ClusterRoleSelectors {
				matched, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(&sel)})
				if err != nil {
					t.Fatal(err)
				}
				items := matched.Items
				slices.SortFunc(items, func(a, b rbacv1.ClusterRole) int {
					if a.Name < b.Name {
						return -1
					}
					return 1
				})
				for _, cr := range items {
					if cr.Name == agg.Name {
						continue
					}
					for _, r := range cr.Rules {
						if !slices.ContainsFunc(rules, func(x rbacv1.PolicyRule) bool { return reflect.DeepEqual(x, r) }) {
							rules = append(rules, r)
						}
					}
				}
			}
			if reflect.DeepEqual(rules, agg.Rules) || len(rules) == 0 && len(agg.Rules) == 0 {
				continue
			}
			agg.Rules = rules
			if _, err := cs.RbacV1().ClusterRoles().Update(ctx, agg, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			changed = true
		}
		if !changed {
			return
		}
	}
}

type oracleCase struct {
	id  Identity
	req Request
}

// nearCase derives a request from a random rule of a random fixture binding,
// asked by one of its subjects, with the namespace, name, verb or resource
// sometimes changed: most such requests sit on the edge of a rule.
func nearCase(rng *rand.Rand, fixture *Graph) oracleCase {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	base := randomCase(rng)
	var bs []*Binding
	for _, b := range fixture.Bindings {
		if b.role != nil && len(b.role.Rules) > 0 && len(b.Subjects) > 0 {
			bs = append(bs, b)
		}
	}
	b := bs[rng.IntN(len(bs))]
	s := fillNS(b.Subjects[rng.IntN(len(b.Subjects))], b.Namespace)
	c := oracleCase{id: s.Identity()}
	if rng.IntN(4) == 0 {
		c.id = base.id
	}
	r := b.role.Rules[rng.IntN(len(b.role.Rules))]
	verb := pick(r.Verbs)
	if verb == All || rng.IntN(5) == 0 {
		verb = base.req.Verb
	}
	if len(r.NonResourceURLs) > 0 {
		c.req = Request{Verb: verb, Path: pick(r.NonResourceURLs)}
		if rng.IntN(2) == 0 {
			c.req.Path = base.req.Path
			if c.req.Path == "" {
				c.req.Path = "/logs/x"
			}
		}
		return c
	}
	c.req = base.req
	c.req.Verb = verb
	if c.req.Path != "" {
		c.req = Request{Verb: verb, Resource: "pods"}
	}
	if g := pick(r.APIGroups); g != All && rng.IntN(4) != 0 {
		c.req.APIGroup = g
	}
	if res := pick(r.Resources); res != All && rng.IntN(4) != 0 {
		resource, sub, _ := strings.Cut(res, "/")
		if resource != All {
			c.req.Resource = resource
		}
		c.req.Subresource = sub
	}
	if b.Namespace != "" && rng.IntN(3) != 0 {
		c.req.Namespace = b.Namespace
	}
	if len(r.ResourceNames) > 0 && rng.IntN(2) == 0 {
		c.req.Name = pick(r.ResourceNames)
	}
	return c
}

func randomCase(rng *rand.Rand) oracleCase {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	ids := []Identity{
		Subject{Kind: KindUser, Name: "alice"}.Identity(),
		Subject{Kind: KindUser, Name: "bob"}.Identity(),
		Subject{Kind: KindUser, Name: "carol"}.Identity(),
		Subject{Kind: KindUser, Name: "dave"}.Identity(),
		Subject{Kind: KindUser, Name: "erin"}.Identity(),
		Subject{Kind: KindUser, Name: "frank"}.Identity(),
		{User: "gina", Groups: []string{"devs", Authenticated}},
		{User: "hank", Groups: []string{"ops", Authenticated}},
		{User: "root", Groups: []string{Masters, Authenticated}},
		{User: "system:anonymous", Groups: []string{"system:unauthenticated"}},
		Subject{Kind: KindServiceAccount, Namespace: "ns-a", Name: "robot"}.Identity(),
		Subject{Kind: KindServiceAccount, Namespace: "ns-a", Name: "builder"}.Identity(),
		Subject{Kind: KindServiceAccount, Namespace: "ns-b", Name: "builder"}.Identity(),
		Subject{Kind: KindServiceAccount, Namespace: "ns-c", Name: "default"}.Identity(),
	}
	c := oracleCase{id: ids[rng.IntN(len(ids))]}
	if rng.IntN(6) == 0 {
		c.req = Request{
			Verb: pick([]string{"get", "post", "put", "delete"}),
			Path: pick([]string{"/healthz", "/healthz/etcd", "/api", "/api/v1", "/apis", "/logs", "/logsx", "/logs/kube", "/metrics", "/version", "/openapi/v2", "/livez"}),
		}
		return c
	}
	type res struct{ group, resource, sub string }
	resources := []res{
		{"", "pods", ""}, {"", "pods", "exec"}, {"", "pods", "log"}, {"", "pods", "status"}, {"", "pods", "attach"},
		{"", "secrets", ""}, {"", "configmaps", ""}, {"", "services", ""}, {"", "services", "status"},
		{"apps", "deployments", ""}, {"apps", "deployments", "scale"}, {"apps", "deployments", "status"},
		{"extensions", "deployments", ""}, {"apps", "statefulsets", "scale"}, {"batch", "jobs", ""},
		{"", "nodes", ""}, {"", "nodes", "proxy"}, {"", "serviceaccounts", "token"}, {"", "serviceaccounts", ""},
		{Group, "roles", ""}, {Group, "clusterroles", ""}, {"custom.example.com", "widgets", ""}, {"", "replicationcontrollers", "scale"},
	}
	r := resources[rng.IntN(len(resources))]
	c.req = Request{
		Verb:        pick([]string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}),
		APIGroup:    r.group,
		Resource:    r.resource,
		Subresource: r.sub,
		Namespace:   pick([]string{"", "ns-a", "ns-b", "ns-c", "default"}),
		Name:        pick([]string{"", "", "db", "api", "web", "other"}),
	}
	return c
}

func sar(t *testing.T, cs kubernetes.Interface, c oracleCase) bool {
	t.Helper()
	spec := authzv1.SubjectAccessReviewSpec{User: c.id.User, Groups: c.id.Groups}
	if c.req.IsResource() {
		spec.ResourceAttributes = &authzv1.ResourceAttributes{
			Namespace: c.req.Namespace, Verb: c.req.Verb, Group: c.req.APIGroup,
			Resource: c.req.Resource, Subresource: c.req.Subresource, Name: c.req.Name,
		}
	} else {
		spec.NonResourceAttributes = &authzv1.NonResourceAttributes{Path: c.req.Path, Verb: c.req.Verb}
	}
	got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return got.Status.Allowed
}

// TestOracleSubjectAccessReview compares Rampart's RBAC evaluation with the
// real API server's SubjectAccessReview on random requests. The graph is
// read from the live cluster (the fixture plus the server's bootstrap
// policy), after aggregation has been emulated there as the controller
// manager would.
func TestOracleSubjectAccessReview(t *testing.T) {
	t.Run(fmt.Sprintf("%d_tuples", oracleTuples), func(t *testing.T) {
		env := testenv.Start(t)
		cs, err := kubernetes.NewForConfig(env.Admin.Config)
		if err != nil {
			t.Fatal(err)
		}
		dyn, err := dynamic.NewForConfig(env.Admin.Config)
		if err != nil {
			t.Fatal(err)
		}
		applyFixture(t, dyn, "testdata/oracle.yaml")
		emulateAggregation(t, cs)

		var b Builder
		if err := b.AddCluster(context.Background(), cs, k8s.Source{File: "cluster:test", Cluster: "test"}); err != nil {
			t.Fatal(err)
		}
		g := b.Build()
		// Aggregating again what the (emulated) controller wrote is idempotent.
		for _, r := range g.Roles {
			if r.Aggregating && !slices.EqualFunc(r.Rules, r.Written, func(a, b Rule) bool { return a.equal(&b) }) {
				t.Errorf("%s: aggregation over the live rules changed them:\nwritten %v\ncomputed %v", r, r.Written, r.Rules)
			}
		}

		var fb Builder
		if errs := fb.AddFiles(context.Background(), []string{"testdata/oracle.yaml"}, load.Options{Limits: load.DefaultLimits}); len(errs) > 0 {
			t.Fatal(errs)
		}
		fixture := fb.Build()
		rng := rand.New(rand.NewPCG(3, 7))
		allowed, disagree := 0, 0
		for range oracleTuples {
			c := randomCase(rng)
			if rng.IntN(2) == 0 {
				c = nearCase(rng, fixture)
			}
			want := sar(t, cs, c)
			got, grant := g.Allowed(c.id, c.req)
			if want {
				allowed++
			}
			if got != want {
				disagree++
				path := ""
				if grant != nil {
					path = " via " + grant.Path()
				}
				t.Errorf("%s %v: %s: API server allowed=%v, Rampart allowed=%v%s", c.id.User, c.id.Groups, c.req, want, got, path)
			}
		}
		t.Logf("checked %d (subject, request) tuples against SubjectAccessReview: %d allowed, %d denied, %d disagreements", oracleTuples, allowed, oracleTuples-allowed, disagree)
		if allowed < oracleTuples/10 || allowed > oracleTuples*9/10 {
			t.Errorf("fixture too one-sided: %d of %d allowed", allowed, oracleTuples)
		}
	})
}
