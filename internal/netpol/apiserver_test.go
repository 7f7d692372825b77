package netpol

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is a namespace with Services of every kind suggest handles.
const shop = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres
        ports: [{containerPort: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - {port: 5432}
---
apiVersion: v1
kind: Service
metadata: {name: stats, namespace: shop}
spec:
  type: NodePort
  selector: {app: stats}
  ports:
  - {name: statsd, port: 8125, protocol: UDP}
  - {name: trace, port: 8126, targetPort: 9000, protocol: SCTP}
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: shop}
spec:
  type: ExternalName
  externalName: example.com
`

// decodeDocs splits multi-document YAML into unstructured objects.
func decodeDocs(t *testing.T, data string) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(data))
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("YAML: %v\n%s", err, data)
		}
		if m == nil {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: k8s.NormalizeNumbers(toJSONCompatible(m)).(map[string]any)})
	}
}

// toJSONCompatible turns YAML ints into int64 as unstructured requires.
func toJSONCompatible(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = toJSONCompatible(e)
		}
	case []any:
		for i, e := range x {
			x[i] = toJSONCompatible(e)
		}
	case int:
		return int64(x)
	}
	return v
}

var resources = map[string]schema.GroupVersionResource{
	"Namespace":     {Version: "v1", Resource: "namespaces"},
	"Service":       {Version: "v1", Resource: "services"},
	"Pod":           {Version: "v1", Resource: "pods"},
	"NetworkPolicy": {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	"Deployment":    {Group: "apps", Version: "v1", Resource: "deployments"},
	"ReplicaSet":    {Group: "apps", Version: "v1", Resource: "replicasets"},
	"StatefulSet":   {Group: "apps", Version: "v1", Resource: "statefulsets"},
}

// create creates objects (namespace ns when they have none) and returns
// them as the server stored them.
func create(t *testing.T, client dynamic.Interface, ns string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		gvr, ok := resources[o.GetKind()]
		if !ok {
			t.Fatalf("no resource for kind %s", o.GetKind())
		}
		var ri dynamic.ResourceInterface = client.Resource(gvr)
		if o.GetKind() != "Namespace" {
			if o.GetNamespace() == "" {
				o.SetNamespace(ns)
			}
			ri = client.Resource(gvr).Namespace(o.GetNamespace())
		}
		got, err := ri.Create(context.Background(), o, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("the API server rejected %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		out = append(out, got)
	}
	return out
}

func TestAPIServerAcceptsPolicies(t *testing.T) {
	env := testenv.Start(t)
	client, err := dynamic.NewForConfig(env.Admin.Config)
	if err != nil {
		t.Fatal(err)
	}
	create(t, client, "", decodeDocs(t, shop))

	tests := []struct {
		name string
		ns   string
		docs string
	}{
		{name: "doc examples", ns: "docs", docs: strings.Join([]string{
			docTestNetworkPolicy, docDefaultDenyIngress, docAllowAllIngress, docDefaultDenyEgress, docAllowAllEgress,
			docDefaultDenyAll, docEndPort, docAnd, docOr, namedPorts, egressOnlyNoTypes, emptyEgressNoTypes,
			splitBlocks, dbPortRanges, frontendEgressToDB, dnsUDPOnly, dnsBoth, dnsWrongNamespace, dnsResolverBlock,
		}, "\n---\n")},
		{name: "suggest for a namespace with Services", ns: "shop", docs: suggestYAML(t, shop, "shop")},
		{name: "suggest for a namespace without Services", ns: "empty", docs: suggestYAML(t, shop, "empty")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ns != "shop" {
				create(t, client, "", []*unstructured.Unstructured{{Object: map[string]any{
					"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": tt.ns},
				}}})
			}
			objs := decodeDocs(t, tt.docs)
			// The documentation's examples put some policies in "default";
			// move them all to the test's namespace.
			for _, o := range objs {
				o.SetNamespace(tt.ns)
			}
			stored := create(t, client, tt.ns, objs)
			if len(stored) == 0 {
				t.Fatal("nothing created")
			}
			// Round trip: the stored policies read back into the same model.
			inv := k8s.NewInventory()
			for _, o := range stored {
				inv.Add(k8s.EntryFor(k8s.NewObject(o.Object, k8s.Source{File: "cluster"})))
			}
			m := FromInventory(inv)
			if len(m.Warnings) > 0 {
				t.Errorf("warnings on objects the server accepted: %v", m.Warnings)
			}
			if len(m.Policies) != len(objs) {
				t.Errorf("model has %d policies, want %d", len(m.Policies), len(objs))
			}
		})
	}
}

// suggestYAML returns Suggest's YAML for ns over the manifests docs.
func suggestYAML(t *testing.T, docs, ns string) string {
	t.Helper()
	b, err := SuggestYAML(modelOf(t, docs).Suggest(ns))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSuggestIsolates checks that suggested policies do what they say on
// the model: the namespace is default-deny, Services' ports stay reachable,
// DNS works.
func TestSuggestIsolates(t *testing.T) {
	base := modelOf(t, shop)
	sugg, err := SuggestYAML(base.Suggest("shop"))
	if err != nil {
		t.Fatal(err)
	}
	m := modelOf(t, shop, string(sugg))
	if len(m.Warnings) > 0 {
		t.Fatalf("warnings: %v", m.Warnings)
	}
	tests := []struct {
		name, from, to, port, want string
	}{
		{name: "internet to LoadBalancer target port", from: "0.0.0.0/0", to: "shop/Deployment/web", port: "8080", want: "allowed"},
		{name: "internet to LoadBalancer numeric target port", from: "0.0.0.0/0", to: "shop/Deployment/web", port: "8443", want: "allowed"},
		{name: "internet to other port", from: "0.0.0.0/0", to: "shop/Deployment/web", port: "22", want: "denied"},
		{name: "internet to headless ClusterIP", from: "0.0.0.0/0", to: "shop/StatefulSet/db", port: "5432", want: "denied"},
		{name: "web to db", from: "shop/Deployment/web", to: "shop/StatefulSet/db", port: "5432", want: "allowed"},
		{name: "db to web other port", from: "shop/StatefulSet/db", to: "shop/Deployment/web", port: "9999", want: "denied"},
		{name: "web to internet", from: "shop/Deployment/web", to: "1.1.1.1", port: "443", want: "denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := reach(t, m, tt.from, tt.to, tt.port)
			if got := c.Verdict.String(); got != tt.want {
				t.Errorf("verdict = %s, want %s", got, tt.want)
			}
		})
	}
	for _, w := range m.WorkloadsIn("shop") {
		if p := m.DNSProblems(w); len(p) > 0 {
			t.Errorf("%s: DNS problems under the suggested policies: %v", w.ID(), p)
		}
	}
}

// TestLoadCluster reads a cluster: controlled objects are skipped, and the
// answers match those on the same manifests.
func TestLoadCluster(t *testing.T) {
	env := testenv.Start(t)
	client, err := dynamic.NewForConfig(env.Admin.Config)
	if err != nil {
		t.Fatal(err)
	}
	docs := `
apiVersion: v1
kind: Namespace
metadata: {name: live, labels: {project: myproject}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: live}
spec:
  selector: {matchLabels: {role: db}}
  template:
    metadata: {labels: {role: db}}
    spec: {containers: [{name: redis, image: redis, ports: [{name: redis, containerPort: 6379}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: live, labels: {role: frontend}}
spec: {containers: [{name: c, image: nginx}]}
---
` + strings.Replace(namedPorts, "namespace: default", "namespace: live", 1)
	stored := create(t, client, "", decodeDocs(t, docs))
	dep := stored[1]
	// No controller manager runs: create the Deployment's ReplicaSet and Pod.
	ctrl := true
	owner := func(kind string, o *unstructured.Unstructured) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: o.GetAPIVersion(), Kind: kind, Name: o.GetName(), UID: o.GetUID(), Controller: &ctrl}}
	}
	rs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "db-1", "namespace": "live"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"role": "db"}},
			"template": dep.Object["spec"].(map[string]any)["template"],
		},
	}}
	rs.SetOwnerReferences(owner("Deployment", dep))
	rsStored := create(t, client, "", []*unstructured.Unstructured{rs})[0]
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "db-1-abc", "namespace": "live", "labels": map[string]any{"role": "db"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "redis", "image": "redis"}}},
	}}
	pod.SetOwnerReferences(owner("ReplicaSet", rsStored))
	create(t, client, "", []*unstructured.Unstructured{pod})

	inv, errs := LoadCluster(context.Background(), client, k8s.Source{File: "cluster:test", Cluster: "test"}, "")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	live := FromInventory(inv)
	var ids []string
	for _, w := range live.WorkloadsIn("live") {
		ids = append(ids, w.ID())
	}
	if got, want := strings.Join(ids, " "), "live/Deployment/db live/Pod/frontend"; got != want {
		t.Errorf("workloads = %q, want %q (controlled ReplicaSet and Pod skipped)", got, want)
	}
	if l := live.NamespaceLabels("live")["project"]; l != "myproject" {
		t.Errorf("namespace labels not read: %v", live.NamespaceLabels("live"))
	}
	files := modelOf(t, docs)
	for _, port := range []string{"6379", "redis", "80", "5353/UDP"} {
		c1 := reach(t, live, "live/Pod/frontend", "live/Deployment/db", port)
		c2 := reach(t, files, "live/Pod/frontend", "live/Deployment/db", port)
		if c1.Verdict != c2.Verdict {
			t.Errorf("port %s: cluster says %s, files say %s", port, c1.Verdict, c2.Verdict)
		}
	}
	if c := reach(t, live, "live/Pod/frontend", "live/Deployment/db", "6379"); c.Verdict != Full {
		t.Errorf("6379 on the cluster: %s, want allowed", c.Verdict)
	}
	var buf bytes.Buffer
	if err := WriteCoverageTable(&buf, live.Coverage(func(ns string) bool { return ns == "live" })); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "live/Deployment/db") || !strings.Contains(buf.String(), "isolated (named)") {
		t.Errorf("coverage:\n%s", buf.String())
	}
}
