package cluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/k8s/fastjson"
	"github.com/rampart-dev/rampart/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the LIST pages in internal/k8s/fastjson/testdata/pages")

// pagesDir holds LIST pages captured from the real API server, the input of
// fastjson's benchmarks (go test ./test/cluster -run TestListDecode -update
// refreshes them).
const pagesDir = "../../internal/k8s/fastjson/testdata/pages"

// TestListDecodeMatchesClientGo lists real pages of every kind a scan reads
// (and ConfigMaps, for their free-form data) from the real API server and
// holds fastjson.DecodeList to client-go's unstructured decoding of the same
// bytes: same items, same continue token and resourceVersion.
func TestListDecodeMatchesClientGo(t *testing.T) {
	env := testenv.Start(t)
	dyn, err := dynamic.NewForConfig(env.Admin.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "fastjson"
	createListFixtures(t, dyn, ns)
	rc, err := rest.UnversionedRESTClientFor(dynamic.ConfigFor(env.Admin.Config))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"deployments", "/apis/apps/v1/namespaces/" + ns + "/deployments"},
		{"pods", "/api/v1/namespaces/" + ns + "/pods"},
		{"services", "/api/v1/namespaces/" + ns + "/services"},
		{"configmaps", "/api/v1/namespaces/" + ns + "/configmaps"},
		{"roles", "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/roles"},
		{"rolebindings", "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings"},
		{"clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterroles"},
	}
	d := fastjson.NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := rc.Get().AbsPath(tt.path).Param("limit", "40").SetHeader("Accept", "application/json").Do(context.Background()).Raw()
			if err != nil {
				t.Fatal(err)
			}
			ref, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
			if err != nil {
				t.Fatal(err)
			}
			want := ref.(*unstructured.UnstructuredList)
			got, err := d.DecodeList(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Items) == 0 || len(got.Items) != len(want.Items) {
				t.Fatalf("%d items, want %d (and some)", len(got.Items), len(want.Items))
			}
			if got.Continue != want.GetContinue() || got.ResourceVersion != want.GetResourceVersion() || got.Kind != want.GetKind() {
				t.Fatalf("list %+v, want continue %q resourceVersion %q kind %q", got, want.GetContinue(), want.GetResourceVersion(), want.GetKind())
			}
			for i, item := range got.Items {
				if item["kind"] == nil && item["apiVersion"] == nil {
					item["kind"], item["apiVersion"] = want.Items[i].GetKind(), want.Items[i].GetAPIVersion()
				}
				if !reflect.DeepEqual(item, want.Items[i].Object) {
					t.Fatalf("item %d differs:\n got %#v\nwant %#v", i, item, want.Items[i].Object)
				}
			}
			if *update {
				if err := os.MkdirAll(pagesDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(pagesDir, tt.name+".json"), raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// createListFixtures creates 40 each of Deployments, Pods, Services,
// ConfigMaps, Roles and RoleBindings in namespace ns, with the fields
// decoding must get right: integers, quantities, escapes, non-ASCII text.
func createListFixtures(t *testing.T, dyn dynamic.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, u("v1", "Namespace", "", ns, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	type item struct {
		gvr schema.GroupVersionResource
		obj *unstructured.Unstructured
	}
	var items []item
	for i := range 40 {
		name := fmt.Sprintf("app-%02d", i)
		labels := map[string]any{"app": name, "tier": "web"}
		pod := podSpec(i%3 == 0)
		pod["containers"].([]any)[0].(map[string]any)["env"] = []any{
			map[string]any{"name": "GREETING", "value": "héllo \"wörld\" \\ <b>&</b> \u2028 😀"},
			map[string]any{"name": "RATIO", "value": "0.5"},
		}
		pod["containers"].([]any)[0].(map[string]any)["resources"] = map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "128Mi"}}
		pod["containers"].([]any)[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": int64(8080 + i), "protocol": "TCP"}}
		meta := map[string]any{"annotations": map[string]any{"rampart.dev/note": fmt.Sprintf("line one\nline two\t%d", i)}}
		items = append(items,
			item{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, u("apps/v1", "Deployment", ns, name, map[string]any{"spec": map[string]any{
				"replicas": int64(i % 4),
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": pod},
			}})},
			item{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, u("v1", "Pod", ns, name, map[string]any{"spec": podSpec(i%2 == 0)})},
			item{schema.GroupVersionResource{Version: "v1", Resource: "services"}, u("v1", "Service", ns, name, map[string]any{"spec": map[string]any{"clusterIP": "None", "selector": labels, "ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}}})},
			item{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, u("v1", "ConfigMap", ns, name, map[string]any{"data": map[string]any{
				"config.json": fmt.Sprintf(`{"n": %d, "ratio": 1e-3, "name": "caf\u00e9"}`, i),
				"script.sh":   "#!/bin/sh\necho \"$HOME\" \\\n  && exit 0\n",
				"unicode":     "日本語 \u0000 ☃",
			}})},
			item{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, u("rbac.authorization.k8s.io/v1", "Role", ns, name, map[string]any{"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods", "pods/log"}, "verbs": []any{"get", "list", "watch"}}}})},
			item{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, u("rbac.authorization.k8s.io/v1", "RoleBinding", ns, name, map[string]any{
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": ns}},
			})},
		)
		for _, it := range items[len(items)-6:] {
			it.obj.Object["metadata"].(map[string]any)["annotations"] = meta["annotations"]
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(items))
	sem := make(chan struct{}, 16)
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := dyn.Resource(it.gvr).Namespace(ns).Create(ctx, it.obj, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
