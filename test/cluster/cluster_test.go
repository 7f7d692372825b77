// Package cluster tests `rampart scan --cluster` end to end against a real
// kube-apiserver and etcd (internal/testenv), as a user holding only the
// deploy/ ClusterRole, as a user without it, and against an unreachable
// endpoint; and checks that deploy/ itself passes a scan.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/rampart-dev/rampart/internal/cli"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/load/cluster"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs the CLI and returns its exit code, stdout and stderr.
func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// docs splits a multi-document YAML file into JSON-compatible maps.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, d := range strings.Split(string(data), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

var (
	setupOnce sync.Once
	setupErr  error
)

// u builds an unstructured object.
func u(apiVersion, kind, ns, name string, body map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
	if ns != "" {
		o.SetNamespace(ns)
	}
	for k, v := range body {
		o.Object[k] = v
	}
	return o
}

func podSpec(privileged bool) map[string]any {
	return map[string]any{"containers": []any{map[string]any{
		"name": "app", "image": "nginx:1.27",
		"securityContext": map[string]any{"privileged": privileged},
	}}}
}

func gvrOf(o *unstructured.Unstructured) schema.GroupVersionResource {
	gvk := o.GroupVersionKind()
	plural := strings.ToLower(gvk.Kind) + "s"
	if strings.HasSuffix(plural, "ys") {
		plural = strings.TrimSuffix(plural, "ys") + "ies"
	}
	return gvk.GroupVersion().WithResource(plural)
}

// create creates o and returns it as stored (with its UID).
func create(ctx context.Context, dyn dynamic.Interface, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri := dyn.Resource(gvrOf(o))
	if o.GetNamespace() != "" {
		return ri.Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
	}
	return ri.Create(ctx, o, metav1.CreateOptions{})
}

func owned(o *unstructured.Unstructured, owner *unstructured.Unstructured) *unstructured.Unstructured {
	yes := true
	o.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: owner.GetAPIVersion(), Kind: owner.GetKind(), Name: owner.GetName(), UID: types.UID(owner.GetUID()), Controller: &yes}})
	return o
}

// setup loads the fixture objects and the deploy/ RBAC into the shared
// API server, once.
func setup(t *testing.T, env *testenv.Env) {
	t.Helper()
	setupOnce.Do(func() { setupErr = load1(t, env) })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func load1(t *testing.T, env *testenv.Env) error {
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(env.Admin.Config)
	if err != nil {
		return err
	}
	mk := func(o *unstructured.Unstructured) *unstructured.Unstructured {
		if err != nil {
			return nil
		}
		var got *unstructured.Unstructured
		got, err = create(ctx, dyn, o)
		if err != nil {
			err = fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		return got
	}
	mk(u("v1", "Namespace", "", "shop", nil))
	mk(u("v1", "Namespace", "", "secure", map[string]any{"metadata": map[string]any{"name": "secure", "labels": map[string]any{"pod-security.kubernetes.io/enforce": "restricted"}}}))
	dep := mk(u("apps/v1", "Deployment", "shop", "web", map[string]any{"spec": map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}}, "spec": podSpec(true)},
	}}))
	if err != nil {
		return err
	}
	rs := mk(owned(u("apps/v1", "ReplicaSet", "shop", "web-5d8", map[string]any{"spec": map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}}, "spec": podSpec(true)},
	}}), dep))
	if err != nil {
		return err
	}
	mk(owned(u("v1", "Pod", "shop", "web-5d8-abcde", map[string]any{"spec": podSpec(true)}), rs))
	mk(u("v1", "Pod", "shop", "debug", map[string]any{"spec": podSpec(true)}))
	mk(u("v1", "Service", "shop", "web", map[string]any{"spec": map[string]any{"type": "NodePort", "selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80)}}}}))
	mk(u("v1", "ServiceAccount", "shop", "builder", map[string]any{"secrets": []any{map[string]any{"name": "builder-token-x7k2p"}}}))
	mk(u("v1", "Secret", "shop", "builder-token-x7k2p", map[string]any{
		"type":     "kubernetes.io/service-account-token",
		"metadata": map[string]any{"name": "builder-token-x7k2p", "namespace": "shop", "annotations": map[string]any{"kubernetes.io/service-account.name": "builder"}},
	}))
	mk(u("v1", "Secret", "shop", "db", map[string]any{"type": "Opaque", "stringData": map[string]any{"password": "hunter2-do-not-leak"}}))
	mk(u("rbac.authorization.k8s.io/v1", "Role", "shop", "everything", map[string]any{"rules": []any{map[string]any{"apiGroups": []any{"*"}, "resources": []any{"*"}, "verbs": []any{"*"}}}}))
	mk(u("networking.k8s.io/v1", "NetworkPolicy", "secure", "deny-all", map[string]any{"spec": map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}}}))
	for _, d := range docs(t, "../../deploy/rbac.yaml") {
		if d["kind"] == "ClusterRole" {
			mk(&unstructured.Unstructured{Object: d})
		}
	}
	mk(u("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "test-scanner", map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "rampart-scanner"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "scanner"}},
	}))
	return err
}

func decode(t *testing.T, out string) report.Result {
	t.Helper()
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return r
}

// has reports whether r holds a finding of control on object kind/ns/name.
func has(r report.Result, control, kind, ns, name string) bool {
	return slices.ContainsFunc(r.Findings, func(f report.Finding) bool {
		return f.Control == control && f.Object.Kind == kind && f.Object.Namespace == ns && f.Object.Name == name
	})
}

func currentContext(t *testing.T, kubeconfig []byte) string {
	t.Helper()
	c, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return c.CurrentContext
}

func TestScanClusterWithDeployRole(t *testing.T) {
	env := testenv.Start(t)
	setup(t, env)
	scanner := env.AddUser(t, "scanner")
	kc := scanner.KubeconfigFile(t)
	ctxName := currentContext(t, scanner.Kubeconfig)

	code, out, stderr := run("scan", "--cluster", "--kubeconfig", kc, "-o", "json", "--exclude-namespaces", "kube-system")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d (findings, no errors); stderr:\n%s", code, cli.ExitFindings, stderr)
	}
	r := decode(t, out)
	if len(r.Errors) > 0 {
		t.Fatalf("the deploy/ role should list every kind; errors: %+v", r.Errors)
	}
	if strings.Contains(out, "hunter2") {
		t.Fatal("the report leaks secret data")
	}
	tests := []struct {
		name                      string
		control, kind, ns, object string
		want                      bool
	}{
		{"deployment reported", "privileged-container", "Deployment", "shop", "web", true},
		{"its replicaset is not", "privileged-container", "ReplicaSet", "shop", "web-5d8", false},
		{"its pod is not", "privileged-container", "Pod", "shop", "web-5d8-abcde", false},
		{"bare pod reported", "privileged-container", "Pod", "shop", "debug", true},
		{"legacy token via ServiceAccount reference", "legacy-service-account-token-secret", "ServiceAccount", "shop", "builder", true},
		{"secrets not readable with the deploy role", "legacy-service-account-token-secret", "Secret", "shop", "builder-token-x7k2p", false},
		{"namespace without pod security", "namespace-without-pod-security", "Namespace", "", "shop", true},
		{"restricted namespace passes", "namespace-without-pod-security", "Namespace", "", "secure", false},
		{"excluded namespace", "namespace-without-pod-security", "Namespace", "", "kube-system", false},
		{"wildcard role", "rbac-wildcard", "Role", "shop", "everything", true},
		{"cross control sees the cluster", "missing-network-policy", "Deployment", "shop", "web", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := has(r, tt.control, tt.kind, tt.ns, tt.object); got != tt.want {
				t.Errorf("finding %s on %s/%s/%s: got %v, want %v", tt.control, tt.kind, tt.ns, tt.object, got, tt.want)
			}
		})
	}
	for _, f := range r.Findings {
		s := f.Source
		host := strings.TrimSuffix(strings.TrimPrefix(scanner.Config.Host, "https://"), "/")
		if s.File != "cluster:"+ctxName || s.Cluster != ctxName || strings.TrimPrefix(s.Server, "https://") != host || s.ResourceVersion == "" || s.Line != 0 {
			t.Fatalf("finding %s on %s: source %+v, want context %q host %q", f.Control, f.Object, s, ctxName, host)
		}
	}
}

func TestScanClusterAsAdminReadsSecretMetadata(t *testing.T) {
	env := testenv.Start(t)
	setup(t, env)
	code, out, stderr := run("scan", "--cluster", "--kubeconfig", env.Admin.KubeconfigFile(t), "-o", "json", "-n", "shop", "--controls", "legacy-service-account-token-secret")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	r := decode(t, out)
	if !has(r, "legacy-service-account-token-secret", "Secret", "shop", "builder-token-x7k2p") || has(r, "legacy-service-account-token-secret", "Secret", "shop", "db") {
		t.Fatalf("findings %+v", r.Findings)
	}
	if strings.Contains(out, "hunter2") {
		t.Fatal("the report leaks secret data")
	}
}

func TestScanClusterForbidden(t *testing.T) {
	env := testenv.Start(t)
	setup(t, env)
	nobody := env.AddUser(t, "nobody")
	code, out, stderr := run("scan", "--cluster", "--kubeconfig", nobody.KubeconfigFile(t), "-o", "json")
	if code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, cli.ExitUsage, stderr)
	}
	r := decode(t, out)
	// Every listed kind but the skipped Secrets and the absent Istio API.
	want := len(cluster.Resources) - 2
	if len(r.Errors) != want {
		t.Fatalf("%d errors, want one per kind (%d): %+v", len(r.Errors), want, r.Errors)
	}
	for _, e := range r.Errors {
		if !strings.HasPrefix(e.File, nobody.Config.Host) || !strings.Contains(e.Message, "forbidden") {
			t.Errorf("error %+v", e)
		}
	}
	if n := strings.Count(strings.TrimSpace(stderr), "\n") + 1; n != want {
		t.Errorf("stderr has %d lines, want %d:\n%s", n, want, stderr)
	}
}

func TestScanClusterUnreachable(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
current-context: gone
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run("scan", "--cluster", "--kubeconfig", kc)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != cli.ExitUsage || out != "" || len(lines) != 1 || !strings.Contains(lines[0], "https://127.0.0.1:1") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestLoadPaginationRealServer lists with a page size smaller than the
// number of objects: every object must arrive exactly once.
func TestLoadPaginationRealServer(t *testing.T) {
	env := testenv.Start(t)
	setup(t, env)
	cs := env.Admin.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "paged"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 11
	for i := range n {
		cm := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%02d", i), Namespace: "paged"}}
		if _, err := cs.RbacV1().Roles("paged").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := cluster.New(env.Admin.Config, "admin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pageSize int64
	}{{"pages of 2", 2}, {"pages of 3", 3}, {"one page", 500}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			var errs []load.InputError
			err := c.Load(ctx, cluster.Options{Namespaces: []string{"paged"}, PageSize: tt.pageSize}, func(o *k8s.Object) {
				mu.Lock()
				defer mu.Unlock()
				if o.Kind() == "Role" {
					seen[o.Name()]++
				}
			}, func(e load.InputError) { errs = append(errs, e) })
			if err != nil || len(errs) > 0 {
				t.Fatalf("err %v errors %v", err, errs)
			}
			if len(seen) != n {
				t.Fatalf("saw %d roles, want %d", len(seen), n)
			}
			for name, c := range seen {
				if c != 1 {
					t.Errorf("%s seen %d times", name, c)
				}
			}
		})
	}
}

func TestDeployManifestsPassScan(t *testing.T) {
	code, out, stderr := run("scan", "-o", "json", "../../deploy")
	r := decode(t, out)
	// Only these objects may carry findings, and only excepted by
	// annotation with a reason: deploy/node-audit.yaml needs hostPID and
	// hostPath; the eBPF sensor's DaemonSet needs CAP_BPF, CAP_PERFMON,
	// CAP_SYS_RESOURCE as root and the host's /proc and tracefs, and its
	// namespace therefore enforces baseline, not restricted.
	justified := map[string]bool{
		"Job/rampart-node-audit":   true,
		"DaemonSet/rampart-sensor": true,
		"Namespace/rampart-sensor": true,
	}
	var open []report.Finding
	for _, f := range r.Findings {
		if f.Status != "excepted" || f.Exception == nil || f.Exception.Reason == "" || !justified[f.Object.Kind+"/"+f.Object.Name] {
			open = append(open, f)
		}
	}
	if code != cli.ExitOK || len(open) != 0 || len(r.Errors) != 0 || r.Summary.Objects < 8 {
		t.Fatalf("exit %d, %d objects, findings %+v, errors %+v; stderr %s", code, r.Summary.Objects, open, r.Errors, stderr)
	}
}
