package cli

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/testenv"
)

// countingRegistry is an in-process registry that counts the GETs of each
// path, so a test can tell how often an image was read.
type countingRegistry struct {
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingRegistry) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			c.mu.Lock()
			c.gets[r.URL.Path]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (c *countingRegistry) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[path]
}

// TestScanClusterImages runs `rampart scan --cluster --images` against the
// real API server, with images served by an in-process registry and a
// database imported from the real OSV records in testdata/osv:
//   - a Deployment whose two pods (and a standalone pod, through the
//     dockershim imageID form) run the same vulnerable digest: the digest is
//     read once, and the findings land on the Deployment and the pod;
//   - its ServiceAccount is bound to cluster-admin and a LoadBalancer
//     exposes it: the attack-path finding names the critical-vulnerability
//     image;
//   - a Deployment with no pods has its tag resolved in the registry (a
//     clean image: evaluated, no finding);
//   - an image missing from the registry is an input error naming it, and
//     the rest of the scan completes.
func TestScanClusterImages(t *testing.T) {
	reg := &countingRegistry{gets: map[string]int{}}
	srv := httptest.NewServer(reg.wrap(registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	lock := `{"name":"app","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0"},` +
		`"node_modules/lodash":{"version":"4.17.20"},"node_modules/underscore":{"version":"1.12.0"}}}`
	platform := v1.Platform{OS: "linux", Architecture: "amd64"}
	osRelease := imagetest.File{Name: "usr/lib/os-release", Body: detectTestdata(t, "osrelease/debian-12")}
	app := imagetest.Image(t, platform,
		imagetest.Layer(t, osRelease),
		imagetest.Layer(t, imagetest.File{Name: "srv/app/package-lock.json", Body: []byte(lock)}),
	)
	clean := imagetest.Image(t, platform, imagetest.Layer(t, osRelease))
	push := func(repoTag string, img v1.Image) (string, v1.Hash) {
		ref, err := name.ParseReference(host + "/" + repoTag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return ref.String(), d
	}
	appRef, appDigest := push("shop/app:1", app)
	cleanRef, cleanDigest := push("shop/clean:1", clean)
	missingRef := host + "/shop/missing:1"

	db := filepath.Join(t.TempDir(), "vuln.db")
	if code, _, errOut := runCLI("db", "--db", db, "import", filepath.Join("..", "..", "testdata", "osv")); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}

	env := testenv.Start(t)
	cs := env.Admin.Clientset(t)
	ctx := context.Background()
	const ns = "shop"
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci-bot"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "ci-bot-admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci-bot", Namespace: ns}},
		}, metav1.CreateOptions{})
		return err
	})
	labels := map[string]string{"app": "web"}
	web := createDeployment(t, cs, ns, "web", "ci-bot", appRef, labels)
	createDeployment(t, cs, ns, "worker", "", cleanRef, map[string]string{"app": "worker"})
	createDeployment(t, cs, ns, "broken", "", missingRef, map[string]string{"app": "broken"})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
				Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		return err
	})
	// No controller manager runs: create the ReplicaSet and its pods as it
	// would, and report their status as the kubelet would.
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-6d4b", Namespace: ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{controllerRef("apps/v1", "Deployment", web.Name, web.UID)}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: web.Spec.Template},
	}
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appImageID := host + "/shop/app@" + appDigest.String()
	for _, p := range []struct {
		name, imageID string
		owner         *metav1.OwnerReference
	}{
		{"web-6d4b-a", appImageID, ptrTo(controllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID))},
		{"web-6d4b-b", appImageID, ptrTo(controllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID))},
		{"debug", "docker-pullable://" + appImageID, nil},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns, Labels: map[string]string{"app": p.name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: appRef}}}}
		if p.owner != nil {
			pod.OwnerReferences = []metav1.OwnerReference{*p.owner}
			pod.Labels = labels
			pod.Spec.ServiceAccountName = "ci-bot"
		}
		pod, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: appRef, ImageID: p.imageID, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runCLI("scan", "--cluster", "--images", "--kubeconfig", env.Admin.KubeconfigFile(t), "-n", ns,
		"--db", db, "-o", "json")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (an image could not be read): %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Control, Severity, Message, Path string
			Object                           struct{ Kind, Name string }
		}
		Errors   []struct{ File, Message string }
		Controls []struct {
			ID        string
			Evaluated int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // control|kind/name → message
	for _, f := range rep.Findings {
		switch f.Control {
		case "image-critical-vulnerabilities", "image-high-vulnerabilities", "workload-with-privileged-service-account":
			got[f.Control+"|"+f.Object.Kind+"/"+f.Object.Name] = f.Severity + "|" + f.Path + "|" + f.Message
		}
	}
	for _, tt := range []struct {
		key      string
		contains []string
	}{
		{"image-critical-vulnerabilities|Deployment/web", []string{"critical|spec.template.spec.containers[0].image|Image " + appRef,
			appDigest.String(), "has 1 critical vulnerability", "underscore 1.12.0, fixed in 1.12.1", "CVE-"}},
		{"image-high-vulnerabilities|Deployment/web", []string{"high|spec.template.spec.containers[0].image|", "lodash 4.17.20, fixed in 4.17.21"}},
		{"image-critical-vulnerabilities|Pod/debug", []string{"critical|spec.containers[0].image|", "underscore"}},
		{"workload-with-privileged-service-account|Deployment/web", []string{"critical|", "ServiceAccount shop/ci-bot",
			"exposed outside the cluster by Service web (type LoadBalancer)", "runs a critical-vulnerability image: Image " + appRef}},
	} {
		msg, ok := got[tt.key]
		if !ok {
			t.Errorf("no %s finding; findings: %v", tt.key, got)
			continue
		}
		for _, c := range tt.contains {
			if !strings.Contains(msg, c) {
				t.Errorf("%s: %q lacks %q", tt.key, msg, c)
			}
		}
	}
	for _, k := range []string{"image-critical-vulnerabilities|Deployment/worker", "image-high-vulnerabilities|Deployment/worker",
		"image-critical-vulnerabilities|Pod/web-6d4b-a", "image-critical-vulnerabilities|Deployment/broken"} {
		if msg, ok := got[k]; ok {
			t.Errorf("unexpected %s: %s", k, msg)
		}
	}
	for _, c := range rep.Controls {
		// web, debug and worker were analysed; broken was not.
		if (c.ID == "image-critical-vulnerabilities" || c.ID == "image-high-vulnerabilities") && c.Evaluated != 3 {
			t.Errorf("%s evaluated %d workloads, want 3", c.ID, c.Evaluated)
		}
	}
	if len(rep.Errors) != 1 || rep.Errors[0].File != "image "+missingRef {
		t.Errorf("errors %+v, want one for image %s", rep.Errors, missingRef)
	}

	// Each digest was read once: one manifest GET by digest, one GET of
	// each layer.
	for _, d := range []struct {
		repo string
		img  v1.Image
		hash v1.Hash
	}{{"shop/app", app, appDigest}, {"shop/clean", clean, cleanDigest}} {
		if n := reg.count("/v2/" + d.repo + "/manifests/" + d.hash.String()); n != 1 {
			t.Errorf("%s manifest read %d times, want 1", d.repo, n)
		}
		layers, err := d.img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			h, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if n := reg.count("/v2/" + d.repo + "/blobs/" + h.String()); n != 1 {
				t.Errorf("%s layer %s read %d times, want 1", d.repo, h, n)
			}
		}
	}

	// Without --cluster, --images is a usage error.
	if code, _, errOut := runCLI("scan", "--images", "examples/"); code != 2 || !strings.Contains(errOut, "need --cluster") {
		t.Errorf("scan --images without --cluster: exit %d, %q", code, errOut)
	}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

func createDeployment(t *testing.T, cs kubernetes.Interface, ns, name, sa, image string, labels map[string]string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: sa,
					Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
	d, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptrTo(true)}
}

func ptrTo[T any](v T) *T { return &v }
