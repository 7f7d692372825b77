// Package webhook tests `rampart webhook serve` end to end: the real
// kube-apiserver (envtest) calls the real binary over TLS for objects
// created through client-go, as kubectl apply would create them.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
	"github.com/rampart-dev/rampart/internal/testenv"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// warnings collects the warnings the API server relays to the client.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// server is a running `rampart webhook serve` process.
type server struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	base   string
	mu     *sync.Mutex
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var insecure = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
	// Only for reading /readyz and /metrics of the test's own server; the
	// API server verifies it with the CA envtest generated.
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test scraping its own server
}}

// startServer runs the binary on the address the API server calls and
// waits until it is ready (namespace labels synced).
func startServer(t *testing.T, bin string, wh testenv.Webhooks, kubeconfig, cfg string) *server {
	t.Helper()
	mu := &sync.Mutex{}
	var stderr bytes.Buffer
	addr := fmt.Sprintf("%s:%d", wh.Host, wh.Port)
	cmd := exec.Command(bin, "webhook", "serve", "--addr", addr, "--cert-dir", wh.CertDir,
		"--kubeconfig", kubeconfig, "--config", cfg, "--namespace", "rampart-system", "--background", "1h")
	cmd.Stderr = lockedWriter{mu: mu, w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &stderr, base: "https://" + addr, mu: mu}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := insecure.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook server not ready: %v\n%s", err, s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

func (s *server) metric(t *testing.T, series string) string {
	t.Helper()
	resp, err := insecure.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, series+" ") {
			return strings.TrimPrefix(l, series+" ")
		}
	}
	return ""
}

func pod(name string, privileged bool) *corev1.Pod {
	no, yes, uid := false, true, int64(10001)
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	if privileged {
		sc = &corev1.SecurityContext{Privileged: &yes}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: &no,
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				SecurityContext: sc,
			}},
		},
	}
}

func TestWebhookOnRealAPIServer(t *testing.T) {
	env, wh := testenv.StartWithWebhooks(t, webhook.ValidatingWebhookConfiguration(webhook.RegistrationOptions{}))
	dir := t.TempDir()
	bin := filepath.Join(dir, "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rampart").CombinedOutput(); err != nil {
		t.Fatalf("building rampart: %v\n%s", err, out)
	}
	kubeconfig := env.Admin.KubeconfigFile(t)
	cfg := filepath.Join(dir, "config.yaml")
	// Cluster default: enforce critical (so cluster-admin bindings, which
	// are cluster-scoped, are denied), nothing else; namespaces choose more.
	// An in-process registry with a signed and an unsigned image, and the
	// policy that requires signatures by key on its images.
	host := signtest.StartRegistry(t, false)
	key := signtest.NewKey(t)
	signed := signtest.PushImage(t, host, "signed/app:v1")
	signtest.SignLegacy(t, signed, signed.DigestStr(), key, nil)
	signtest.PushImage(t, host, "unsigned/app:v1")
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`webhook:
  enforce: critical
  warn: "off"
  audit: "off"
  images:
    requireSignature:
      - registries: [%q]
        keys: [%q]
settings:
  allowedRegistries: [registry.example.com/, %q]
`, host+"/", keyFile, host+"/")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(env.Admin.Config)
	namespaces := map[string]map[string]string{
		"enforce":    {webhook.LabelEnforce: "high"},
		"warn":       {webhook.LabelEnforce: "off", webhook.LabelWarn: "high"},
		"audit":      {webhook.LabelEnforce: "off", webhook.LabelAudit: "info"},
		"restricted": {webhook.LabelEnforce: "pss-restricted"},
	}
	for name, labels := range namespaces {
		if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A Dashboard created before the webhook runs (failurePolicy Ignore
	// admits it), as one installed before Rampart would be.
	dashLabels := map[string]string{"k8s-app": "kubernetes-dashboard"}
	dash := deployment("kubernetes-dashboard", dashLabels, corev1.PodSpec{Containers: []corev1.Container{{Name: "dashboard", Image: "kubernetesui/dashboard:v2.7.0"}}})
	if _, err := admin.AppsV1().Deployments("enforce").Create(ctx, dash, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, wh, kubeconfig, cfg)

	warn := &warnings{}
	userCfg := rest.CopyConfig(env.Admin.Config)
	userCfg.WarningHandler = warn
	client := kubernetes.NewForConfigOrDie(userCfg)

	t.Run("privileged pod denied in an enforce namespace, naming privileged-container", func(t *testing.T) {
		_, err := client.CoreV1().Pods("enforce").Create(ctx, pod("priv", true), metav1.CreateOptions{})
		if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "privileged-container") ||
			!strings.Contains(err.Error(), "spec.containers[0].securityContext.privileged") {
			t.Fatalf("err = %v, want a denial naming privileged-container and the field", err)
		}
	})
	t.Run("privileged pod allowed with a warning in a warn namespace", func(t *testing.T) {
		warn.take()
		if _, err := client.CoreV1().Pods("warn").Create(ctx, pod("priv", true), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(warn.take(), "\n"); !strings.Contains(w, "privileged-container") {
			t.Fatalf("warnings %q lack privileged-container", w)
		}
	})
	t.Run("privileged pod allowed and recorded in an audit namespace", func(t *testing.T) {
		before := srv.metric(t, `rampart_webhook_violations_total{control="privileged-container",mode="audit"}`)
		if _, err := client.CoreV1().Pods("audit").Create(ctx, pod("priv", true), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if before != "" {
			t.Fatalf("audit violations before the request: %s", before)
		}
		if got := srv.metric(t, `rampart_webhook_violations_total{control="privileged-container",mode="audit"}`); got != "1" {
			t.Fatalf("audit violations metric = %q, want 1", got)
		}
		if l := srv.logs(); !strings.Contains(l, `"mode":"audit"`) || !strings.Contains(l, `"namespace":"audit"`) {
			t.Fatalf("audit record not in the log:\n%s", l)
		}
	})
	t.Run("hardened pod allowed everywhere", func(t *testing.T) {
		for ns := range namespaces {
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod("hardened", false), metav1.CreateOptions{}); err != nil {
				t.Errorf("%s: %v", ns, err)
			}
		}
	})
	t.Run("Deployment with a privileged template denied", func(t *testing.T) {
		p := pod("x", true)
		labels := map[string]string{"app": "x"}
		dep := deployment("priv", labels, p.Spec)
		_, err := client.AppsV1().Deployments("enforce").Create(ctx, dep, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "spec.template.spec.containers[0].securityContext.privileged") {
			t.Fatalf("err = %v, want a denial at the template's field", err)
		}
	})
	t.Run("ClusterRoleBinding to cluster-admin for a ServiceAccount denied by the cluster default", func(t *testing.T) {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "ci-admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci", Namespace: "warn"}},
		}
		_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "cluster-admin-binding") {
			t.Fatalf("err = %v, want a denial naming cluster-admin-binding", err)
		}
	})
	t.Run("LoadBalancer Service publishing the Dashboard denied (dashboard-exposed, cross-object)", func(t *testing.T) {
		svc := func(name string, typ corev1.ServiceType) *corev1.Service {
			return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
				Type: typ, Selector: dashLabels, Ports: []corev1.ServicePort{{Port: 443}}}}
		}
		_, err := client.CoreV1().Services("enforce").Create(ctx, svc("console", corev1.ServiceTypeLoadBalancer), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "dashboard-exposed") {
			t.Fatalf("err = %v, want a denial naming dashboard-exposed", err)
		}
		if _, err := client.CoreV1().Services("enforce").Create(ctx, svc("dashboard-internal", corev1.ServiceTypeClusterIP), metav1.CreateOptions{}); err != nil {
			t.Fatalf("ClusterIP Service for the Dashboard denied: %v", err)
		}
	})
	t.Run("background audit reports objects admitted before the policy", func(t *testing.T) {
		var body []byte
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := insecure.Get(srv.base + "/report?format=json")
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no background report: %v %s\n%s", err, body, srv.logs())
			}
			time.Sleep(200 * time.Millisecond)
		}
		var rep struct {
			Findings []struct {
				Control string `json:"control"`
				Status  string `json:"status"`
				Object  struct{ Kind, Name string }
			} `json:"findings"`
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range rep.Findings {
			if f.Object.Kind == "Deployment" && f.Object.Name == "kubernetes-dashboard" && f.Control == "run-as-root" && f.Status == "fail" {
				found = true
			}
		}
		if !found {
			t.Fatalf("background report (%d findings) lacks run-as-root on the Dashboard admitted before the webhook", len(rep.Findings))
		}
		if got := srv.metric(t, `rampart_background_findings{control="run-as-root",severity="high"}`); got == "" || got == "0" {
			t.Fatalf("rampart_background_findings for run-as-root = %q", got)
		}
	})
	t.Run("images.requireSignature: signed image admitted, unsigned denied", func(t *testing.T) {
		p := pod("signed", false)
		p.Spec.Containers[0].Image = host + "/signed/app:v1"
		if _, err := client.CoreV1().Pods("enforce").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("pod with a signed image denied: %v", err)
		}
		p = pod("unsigned", false)
		p.Spec.Containers[0].Image = host + "/unsigned/app:v1"
		_, err := client.CoreV1().Pods("enforce").Create(ctx, p, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "image-unsigned") || !strings.Contains(err.Error(), "not signed") {
			t.Fatalf("err = %v, want a denial naming image-unsigned", err)
		}
	})
	t.Run("dry run is answered but not recorded", func(t *testing.T) {
		before := srv.metric(t, `rampart_webhook_violations_total{control="privileged-container",mode="enforce"}`)
		_, err := client.CoreV1().Pods("enforce").Create(ctx, pod("dry", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "privileged-container") {
			t.Fatalf("dry run err = %v, want the same denial", err)
		}
		if after := srv.metric(t, `rampart_webhook_violations_total{control="privileged-container",mode="enforce"}`); after != before {
			t.Fatalf("dry run recorded: %s -> %s", before, after)
		}
	})

	// Fail-safety: the webhook is gone.
	srv.kill()
	t.Run("server killed, failurePolicy Ignore: pods still admitted within the timeout", func(t *testing.T) {
		start := time.Now()
		if _, err := client.CoreV1().Pods("enforce").Create(ctx, pod("while-down", true), metav1.CreateOptions{}); err != nil {
			t.Fatalf("pod not admitted with the webhook down: %v", err)
		}
		if took := time.Since(start); took > (webhook.DefaultTimeoutSeconds+1)*time.Second {
			t.Fatalf("admission took %s with the webhook down", took)
		}
	})
	t.Run("server killed, fail-closed: denied, but kube-system still works", func(t *testing.T) {
		vwcs := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations()
		vwc, err := vwcs.Get(ctx, webhook.DefaultName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fail := admissionregistrationv1.Fail
		vwc.Webhooks[0].FailurePolicy = &fail
		if _, err := vwcs.Update(ctx, vwc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The API server picks up the change asynchronously.
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; ; i++ {
			_, err = client.CoreV1().Pods("enforce").Create(ctx, pod(fmt.Sprintf("closed-%d", i), false), metav1.CreateOptions{})
			if err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("err = %v, want the API server to refuse with the webhook down", err)
		}
		if _, err := client.CoreV1().Pods("kube-system").Create(ctx, pod("system", true), metav1.CreateOptions{}); err != nil {
			t.Fatalf("kube-system blocked by a fail-closed webhook: %v", err)
		}
	})
	t.Run("evaluation that panics is answered (allowed and logged), not dropped, even fail-closed", func(t *testing.T) {
		// The same address, now served in process by a server whose
		// evaluation panics; the configuration is still failurePolicy Fail.
		certs, err := webhook.NewCertReloader(filepath.Join(wh.CertDir, "tls.crt"), filepath.Join(wh.CertDir, "tls.key"), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := webhook.NewPolicy(config.Webhook{Enforce: "info"}, "rampart-system", framework.MustLoad())
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		var mu sync.Mutex
		s := webhook.NewServer(panicky{}, p, nil, webhook.Options{Log: slog.New(slog.NewJSONHandler(lockedWriter{mu: &mu, w: &logs}, nil))})
		ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", wh.Host, wh.Port))
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = s.Serve(sctx, ln, certs) }()
		warn.take()
		if _, err := client.CoreV1().Pods("enforce").Create(ctx, pod("panic", true), metav1.CreateOptions{}); err != nil {
			t.Fatalf("request whose evaluation panicked was not answered with allowed: %v", err)
		}
		if w := strings.Join(warn.take(), "\n"); !strings.Contains(w, "internal error") {
			t.Errorf("warnings %q lack the internal error notice", w)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "panicked") {
			t.Errorf("panic not logged: %s", logs.String())
		}
	})
}

// panicky is an evaluator that panics on every object.
type panicky struct{}

func (panicky) Evaluate(*k8s.Object) []engine.Verdict { panic("evaluation bug") }

func deployment(name string, labels map[string]string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}
