package auditlog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rampart-dev/rampart/internal/detect"
	"github.com/rampart-dev/rampart/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/captured.jsonl with the audit events of TestLiveCluster")

func TestMain(m *testing.M) { testenv.Main(m) }

// loopbackTLS returns a CA (PEM) and a server certificate for 127.0.0.1.
func loopbackTLS(t *testing.T) (caPEM []byte, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rampart-test-ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	cert, err = tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert
}

// collector gathers alerts and lets a test wait for one.
type collector struct {
	mu     sync.Mutex
	alerts []detect.Alert
	signal chan struct{}
}

func newCollector() *collector { return &collector{signal: make(chan struct{}, 1)} }

func (c *collector) add(a detect.Alert) {
	c.mu.Lock()
	c.alerts = append(c.alerts, a)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *collector) find(pred func(*detect.Alert) bool) *detect.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.alerts {
		if pred(&c.alerts[i]) {
			a := c.alerts[i]
			return &a
		}
	}
	return nil
}

// wait returns the first alert satisfying pred, failing t when none came
// within the deadline (the API server batches events every 100 ms).
func (c *collector) wait(t *testing.T, what string, pred func(*detect.Alert) bool) detect.Alert {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		if a := c.find(pred); a != nil {
			return *a
		}
		select {
		case <-c.signal:
		case <-deadline.C:
			c.mu.Lock()
			var got []string
			for _, a := range c.alerts {
				got = append(got, a.Rule+": "+a.Output)
			}
			c.mu.Unlock()
			t.Fatalf("no alert for %s; alerts so far:\n%s", what, strings.Join(got, "\n"))
		}
	}
}

// eventually polls cond (an informer or RBAC state the test depends on)
// until it holds, failing t after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// capture records the webhook bodies the API server posts.
type capture struct {
	mu     sync.Mutex
	bodies [][]byte
	next   http.Handler
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, buf.Bytes())
		c.mu.Unlock()
		r.Body.Close()
		r.Body = nopCloser{bytes.NewReader(buf.Bytes())}
	}
	c.next.ServeHTTP(w, r)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// events returns the captured events as JSON lines, in arrival order.
func (c *capture) events(t *testing.T) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, b := range c.bodies {
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, it := range list.Items {
			var buf bytes.Buffer
			if err := json.Compact(&buf, it); err != nil {
				t.Fatal(err)
			}
			out = append(out, buf.Bytes())
		}
	}
	return out
}

type liveEnv struct {
	env       *testenv.Env
	admin     *kubernetes.Clientset
	alerts    *collector
	inv       *Inventory
	server    *Server
	capture   *capture
	adminConf *rest.Config
}

// startLive starts kube-apiserver with the shipped audit policy and the
// webhook backend pointing at an in-process rampart audit serve on loopback
// TLS.
func startLive(t *testing.T) *liveEnv {
	t.Helper()
	caPEM, cert := loopbackTLS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: rampart
  cluster:
    server: https://%s/audit
    certificate-authority-data: %s
contexts:
- name: rampart
  context: {cluster: rampart, user: apiserver}
current-context: rampart
users:
- name: apiserver
  user: {}
`, ln.Addr(), b64(caPEM))
	webhookFile := filepath.Join(dir, "audit-webhook.yaml")
	if err := os.WriteFile(webhookFile, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	policy, err := filepath.Abs("../../deploy/audit/audit-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The receiving server starts first and stops last (cleanups run in
	// reverse): the API server flushes its audit batches while stopping.
	var det atomic.Pointer[Detector]
	metrics := detect.NewMetrics()
	srv := NewServer(func(ev *Event) {
		if d := det.Load(); d != nil {
			if err := d.Process(ev, nil); err != nil {
				t.Errorf("evaluating %s %s: %v", ev.Verb, ev.RequestURI, err)
			}
		}
	}, ServerOptions{Metrics: metrics})
	capt := &capture{next: srv.Handler()}
	hs := &http.Server{Handler: capt, ReadHeaderTimeout: 10 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	env := testenv.StartCustom(t, func(cp *envtest.ControlPlane) {
		cp.GetAPIServer().Configure().
			Set("audit-policy-file", policy).
			Set("audit-webhook-config-file", webhookFile).
			Set("audit-webhook-batch-max-wait", "100ms").
			Set("anonymous-auth", "true")
	})
	admin := env.Admin.Clientset(t)

	rules := defaultRulesT(t)
	alerts := newCollector()
	disp := detect.NewDispatcher(detect.NewDeduper(time.Minute, detect.Cooldowns(rules.Rules()), 0), nil, detect.WithCollector(alerts.add), detect.WithMetrics(metrics))
	inv := NewInventory(admin, nil)
	if err := inv.Start(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Shutdown)
	baseline := &Baseline{Allow: DefaultSecretReaders, PodServiceAccount: inv.PodServiceAccount}
	det.Store(NewDetector(rules, &Enricher{Lookup: inv, Cluster: "envtest"}, baseline, disp, metrics, nil))
	return &liveEnv{env: env, admin: admin, alerts: alerts, inv: inv, server: srv, capture: capt, adminConf: env.Admin.Config}
}

func b64(b []byte) string {
	return strings.TrimSpace(string(mustBase64(b)))
}

func defaultRulesT(t *testing.T) *detect.RuleSet { return defaultRules(t) }

// tokenClient returns a client authenticating with a ServiceAccount token
// (bound to pod when pod is not nil) and the given user agent.
func (l *liveEnv) tokenClient(t *testing.T, ns, sa string, pod *corev1.Pod, userAgent string) *kubernetes.Clientset {
	t.Helper()
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if pod != nil {
		tr.Spec.BoundObjectRef = &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tok, err := l.admin.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: l.adminConf.Host, TLSClientConfig: rest.TLSClientConfig{CAData: l.adminConf.CAData}, BearerToken: tok.Status.Token, UserAgent: userAgent, QPS: 100, Burst: 100}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func ptr[T any](v T) *T { return &v }

// must returns v, or panics with err; TestLiveCluster turns the panic
// into a test failure.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestLiveCluster drives a real kube-apiserver through client-go and checks
// that rampart audit serve, fed by the API server's audit webhook, raises
// the expected alerts with their context. With -update it also rewrites
// testdata/captured.jsonl, the real events the rule tests and the benchmark
// replay.
func TestLiveCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	l := startLive(t)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	ctx := context.Background()
	a := l.admin
	bg := metav1.CreateOptions{}

	// Namespaces and ServiceAccounts.
	for _, ns := range []string{"shop", "billing"} {
		must(a.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, bg))
	}
	for _, sa := range [][2]string{{"shop", "default"}, {"shop", "reader"}, {"kube-system", "default"}, {"kube-system", "deployer"}} {
		must(a.CoreV1().ServiceAccounts(sa[0]).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa[1]}}, bg))
	}
	// RBAC: shop/reader may read secrets in shop and mint its own token;
	// kube-system/deployer may create pods and read secrets in kube-system.
	must(a.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}, ResourceNames: []string{"reader"}},
	}}, bg))
	must(a.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "shop"}}}, bg))
	must(a.RbacV1().Roles("billing").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}}, bg))
	must(a.RbacV1().RoleBindings("billing").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "shop-reader"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "shop"}}}, bg))
	must(a.CoreV1().Secrets("billing").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "stripe-key"}, StringData: map[string]string{"key": "sk_live_not_in_alerts"}}, bg))
	must(a.RbacV1().Roles("kube-system").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}}, bg))
	must(a.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployer"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: "kube-system"}}}, bg))
	must(a.CoreV1().Secrets("shop").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password"}, StringData: map[string]string{"password": "hunter2-not-in-alerts"}}, bg))
	must(a.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap"}, StringData: map[string]string{"token": "s3cr3t-not-in-alerts"}}, bg))

	// A Deployment → ReplicaSet → Pod chain (no controller manager runs:
	// the objects are created by hand with their owner references), exposed
	// by a LoadBalancer Service and an Ingress.
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	image := "registry.example/shop/api@" + digest
	labels := map[string]string{"app": "api"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: "reader", Containers: []corev1.Container{{Name: "api", Image: image}}}}
	dep := must(a.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, bg))
	rs := must(a.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-7d9f", OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, bg))
	pod := must(a.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api-7d9f-x1", Labels: labels, OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr(true)}}}, Spec: tmpl.Spec}, bg))
	must(a.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api-lb"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}}}}, bg))
	pathType := networkingv1.PathTypePrefix
	must(a.NetworkingV1().Ingresses("shop").Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "api-lb", Port: networkingv1.ServiceBackendPort{Number: 443}}}}}}}}}}}, bg))

	// A CronJob → Job → Pod chain.
	cj := must(a.BatchV1().CronJobs("shop").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "docker.io/library/alpine:3.20"}}}}}}}}, bg))
	job := must(a.BatchV1().Jobs("shop").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr(true)}}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": "nightly"}}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "docker.io/library/alpine:3.20"}}}}}}, bg))
	jobPod := must(a.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000-abcde", Labels: map[string]string{"job": "nightly"}, OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr(true)}}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "docker.io/library/alpine:3.20"}}}}, bg))

	eventually(t, "the inventory to hold the pods, Service, Ingress, Job and RBAC", func() bool {
		if _, ok := l.inv.Pod("shop", jobPod.Name); !ok {
			return false
		}
		if k, _ := l.inv.Workload(jobPod); k != "CronJob" {
			return false
		}
		_, ok := l.inv.Pod("shop", "api-7d9f-x1")
		return ok && len(l.inv.Exposure(pod)) == 2 && len(l.inv.Risks("shop", "reader")) >= 3
	})

	// 1. A cluster-admin binding (and a harmless one).
	for name, role := range map[string]string{"fire-crb": "cluster-admin", "nofire-crb": "view"} {
		must(a.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role}, Subjects: []rbacv1.Subject{{Kind: "User", Name: "mallory", APIGroup: "rbac.authorization.k8s.io"}}}, bg))
	}
	// Wildcard and narrow ClusterRoles.
	must(a.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "fire-wild"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}, bg))
	must(a.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "nofire-narrow"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}, bg))

	// 2. A secret of another namespace read by a ServiceAccount (its
	// token bound to the pod), one of its own namespace (usual: a pod of
	// the namespace runs as it), and one read by an allow-listed
	// kube-system ServiceAccount.
	reader := l.tokenClient(t, "shop", "reader", pod, "shop-api/1.0")
	must(reader.CoreV1().Secrets("shop").Get(ctx, "db-password", metav1.GetOptions{}))
	must(reader.CoreV1().Secrets("billing").Get(ctx, "stripe-key", metav1.GetOptions{}))
	if _, err := reader.CoreV1().Secrets("billing").Get(ctx, "missing", metav1.GetOptions{}); err == nil {
		t.Fatal("billing/missing exists")
	}
	deployer := l.tokenClient(t, "kube-system", "deployer", nil, "deployer/1.0")
	must(deployer.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap", metav1.GetOptions{}))
	// The ServiceAccount mints its own token (not another subject's).
	must(reader.CoreV1().ServiceAccounts("shop").CreateToken(ctx, "reader", &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, bg))
	// kubectl from inside the pod.
	kubectl := l.tokenClient(t, "shop", "reader", pod, "kubectl/v1.37.2 (linux/amd64) kubernetes/0000000")
	_, _ = kubectl.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})

	// 3. A privileged pod with a hostPath of / (and a plain one); pods in
	// kube-system by a user and by a kube-system ServiceAccount.
	privileged := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fire-priv"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "shell", Image: "docker.io/library/busybox:1.36", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}, VolumeMounts: []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}}},
		Volumes:    []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}}
	must(a.CoreV1().Pods("shop").Create(ctx, privileged, bg))
	must(a.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nofire-plain"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "docker.io/library/nginx:1.27"}}}}, bg))
	must(a.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fire-ks"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "miner", Image: "docker.io/library/alpine:3.20"}}}}, bg))
	must(deployer.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nofire-ks"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "dns", Image: "registry.k8s.io/coredns/coredns:v1.11.3"}}}}, bg))

	// Exec and port-forward into the pod, by the admin and by a user
	// without permission (the pod has no node: the API server answers an
	// error after authorizing, which is what the rules read).
	intern := l.env.AddUser(t, "intern").Clientset(t)
	{
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = a.CoreV1().RESTClient().Post().Namespace("shop").Resource("pods").Name(jobPod.Name).SubResource("attach").Param("stdout", "true").Do(sctx).Error()
		cancel()
	}
	for _, c := range []*kubernetes.Clientset{a, intern} {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = c.CoreV1().RESTClient().Post().Namespace("shop").Resource("pods").Name(pod.Name).SubResource("exec").Param("command", "id").Param("container", "api").Param("stdout", "true").Do(sctx).Error()
		_ = c.CoreV1().RESTClient().Post().Namespace("shop").Resource("pods").Name(pod.Name).SubResource("portforward").Param("ports", "8443").Do(sctx).Error()
		cancel()
	}
	t.Log("exec and port-forward sent")

	// 4. Anonymous requests: /version (allowed to system:unauthenticated
	// by system:public-info-viewer) and a secrets list (forbidden).
	anon := kubernetes.NewForConfigOrDie(&rest.Config{Host: l.adminConf.Host, TLSClientConfig: rest.TLSClientConfig{CAData: l.adminConf.CAData}, UserAgent: "scanner/0.1"})
	if _, err := anon.Discovery().ServerVersion(); err != nil {
		t.Fatalf("anonymous /version: %v", err)
	}
	if _, err := anon.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("anonymous secrets list was allowed")
	}

	// Admission webhook configuration created and deleted; a delete of a
	// missing one.
	fail := admissionv1.Ignore
	none := admissionv1.SideEffectClassNone
	must(a.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "fire-vwc"},
		Webhooks: []admissionv1.ValidatingWebhook{{Name: "check.example.com", ClientConfig: admissionv1.WebhookClientConfig{URL: ptr("https://127.0.0.1:1/validate")}, FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}}}}}, bg))
	if err := a.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "fire-vwc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = a.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "nofire-missing", metav1.DeleteOptions{})
	// NetworkPolicy created and deleted; a delete of a missing one.
	must(a.NetworkingV1().NetworkPolicies("shop").Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "fire-np"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}, bg))
	if err := a.NetworkingV1().NetworkPolicies("shop").Delete(ctx, "fire-np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = a.NetworkingV1().NetworkPolicies("shop").Delete(ctx, "nofire-np", metav1.DeleteOptions{})

	t.Log("all requests sent")
	al := l.alerts
	// The four required scenarios, with their context.
	crb := al.wait(t, "the cluster-admin binding", func(x *detect.Alert) bool {
		return x.Rule == "audit-cluster-admin-binding" && strings.Contains(x.Output, "fire-crb")
	})
	if !strings.Contains(crb.Output, "User/mallory") || crb.Severity != "critical" || crb.Event["user"] != "admin" {
		t.Errorf("cluster-admin binding alert: %+v", crb)
	}
	sec := al.wait(t, "the secret read by shop/reader", func(x *detect.Alert) bool {
		return x.Rule == "audit-secret-read-unusual" && x.Event["user"] == "system:serviceaccount:shop:reader"
	})
	if sec.Event["namespace"] != "billing" || sec.Event["name"] != "stripe-key" {
		t.Errorf("secret read alert on %s/%s, want billing/stripe-key (a pod of shop runs as shop/reader: its reads in shop are usual)", sec.Event["namespace"], sec.Event["name"])
	}
	c := sec.Context
	if c.Pod != "api-7d9f-x1" || c.Namespace != "shop" || c.Image != image || c.ImageDigest != digest || c.WorkloadKind != "Deployment" || c.WorkloadName != "api" ||
		c.ServiceAccount != "shop/reader" || !slices.ContainsFunc(c.ServiceAccountRisks, func(s string) bool {
		return strings.HasPrefix(s, "secrets-read: can read secrets in namespace billing")
	}) ||
		!slices.Equal(c.Exposure, []string{"Ingress/api", "Service/api-lb type LoadBalancer"}) || c.Cluster != "envtest" {
		t.Errorf("secret read context: %+v", c)
	}
	priv := al.wait(t, "the privileged pod", func(x *detect.Alert) bool {
		return x.Rule == "audit-pod-privileged" && x.Context.Pod == "fire-priv"
	})
	if priv.Context.Image != "docker.io/library/busybox:1.36" || priv.Context.ServiceAccount != "shop/default" || priv.Context.WorkloadKind != "Pod" ||
		!strings.Contains(priv.Output, "privileged container") || !strings.Contains(priv.Output, "hostPath /") {
		t.Errorf("privileged pod alert: output %q context %+v", priv.Output, priv.Context)
	}
	anonA := al.wait(t, "the anonymous /version", func(x *detect.Alert) bool {
		return x.Rule == "audit-anonymous-allowed" && strings.Contains(x.Output, "/version")
	})
	if anonA.Event["user"] != "system:anonymous" || !strings.Contains(anonA.Output, "127.0.0.1") {
		t.Errorf("anonymous alert: %+v", anonA)
	}
	// The other default rules.
	exec := al.wait(t, "the exec", func(x *detect.Alert) bool { return x.Rule == "audit-pod-exec" && x.Context.Pod == "api-7d9f-x1" })
	if exec.Context.Pod != "api-7d9f-x1" || exec.Context.Container != "api" || exec.Context.Image != image || exec.Context.WorkloadKind != "Deployment" || exec.Event["user"] != "admin" || !strings.Contains(exec.Output, "command id") {
		t.Errorf("exec alert: output %q context %+v", exec.Output, exec.Context)
	}
	att := al.wait(t, "the attach to the CronJob's pod", func(x *detect.Alert) bool {
		return x.Rule == "audit-pod-exec" && x.Context.Pod == jobPod.Name
	})
	if att.Context.WorkloadKind != "CronJob" || att.Context.WorkloadName != "nightly" || att.Context.Image != "docker.io/library/alpine:3.20" || !strings.Contains(att.Output, "ran attach") {
		t.Errorf("attach alert: output %q context %+v", att.Output, att.Context)
	}
	al.wait(t, "the port-forward", func(x *detect.Alert) bool { return x.Rule == "audit-pod-portforward" && x.Event["user"] == "admin" })
	ks := al.wait(t, "the kube-system pod", func(x *detect.Alert) bool { return x.Rule == "audit-pod-kube-system-non-system-user" })
	if ks.Context.Pod != "fire-ks" || ks.Context.Image != "docker.io/library/alpine:3.20" {
		t.Errorf("kube-system pod alert: %+v", ks.Context)
	}
	al.wait(t, "the wildcard ClusterRole", func(x *detect.Alert) bool {
		return x.Rule == "audit-wildcard-clusterrole" && strings.Contains(x.Output, "fire-wild")
	})
	tok := al.wait(t, "the token for another subject", func(x *detect.Alert) bool { return x.Rule == "audit-serviceaccount-token-for-other" })
	if tok.Event["user"] != "admin" {
		t.Errorf("token alert: %+v", tok)
	}
	kc := al.wait(t, "kubectl from the pod", func(x *detect.Alert) bool { return x.Rule == "audit-kubectl-from-pod" })
	if kc.Context.Pod != "api-7d9f-x1" || kc.Context.Image != image || kc.Context.ServiceAccount != "shop/reader" {
		t.Errorf("kubectl alert context: %+v", kc.Context)
	}
	al.wait(t, "the webhook configuration deleted", func(x *detect.Alert) bool {
		return x.Rule == "audit-admission-webhook-changed" && x.Event["verb"] == "delete" && x.Event["name"] == "fire-vwc"
	})
	al.wait(t, "the NetworkPolicy deleted", func(x *detect.Alert) bool {
		return x.Rule == "audit-networkpolicy-deleted" && x.Event["name"] == "fire-np"
	})
	// A marker request: once its event has been processed, every earlier
	// event has been too (the API server sends events in order).
	must(a.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "zz-marker"}}, bg))
	eventually(t, "the marker event", func() bool {
		for _, ev := range l.capture.events(t) {
			if bytes.Contains(ev, []byte(`"zz-marker"`)) {
				return true
			}
		}
		return false
	})
	// None of the near misses fired.
	for _, x := range l.alertsSnapshot() {
		if strings.Contains(x.Output, "nofire") || x.Context.Pod == "nofire-ks" || x.Context.Pod == "nofire-plain" ||
			x.Event["user"] == "intern" || x.Event["user"] == "system:serviceaccount:kube-system:deployer" {
			t.Errorf("near miss fired: %s: %s", x.Rule, x.Output)
		}
		for _, secret := range []string{"hunter2", "s3cr3t", "sk_live"} {
			b, _ := json.Marshal(x)
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("alert %s carries a secret value", x.Rule)
			}
		}
	}
	events := l.capture.events(t)
	for _, ev := range events {
		if bytes.Contains(ev, []byte("hunter2")) || bytes.Contains(ev, []byte("s3cr3t")) || bytes.Contains(ev, []byte("sk_live")) {
			t.Errorf("the audit policy logged a secret value: %.200s", ev)
		}
	}
	if *update {
		var buf bytes.Buffer
		for _, ev := range events {
			buf.Write(ev)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile("testdata/captured.jsonl", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d events to testdata/captured.jsonl", len(events))
	}
}

func (l *liveEnv) alertsSnapshot() []detect.Alert {
	l.alerts.mu.Lock()
	defer l.alerts.mu.Unlock()
	return slices.Clone(l.alerts.alerts)
}

func mustBase64(b []byte) []byte {
	out := make([]byte, base64Std.EncodedLen(len(b)))
	base64Std.Encode(out, b)
	return out
}

var base64Std = base64.StdEncoding
