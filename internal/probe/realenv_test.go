package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/testenv"
)

// TestRealAPIServerAndEtcdInsecure starts the real kube-apiserver with
// anonymous authentication and an RBAC binding for system:anonymous, on
// the real etcd without client certificates: both must be detected.
func TestRealAPIServerAndEtcdInsecure(t *testing.T) {
	var cp *envtest.ControlPlane
	env := testenv.StartCustom(t, func(c *envtest.ControlPlane) {
		cp = c
		c.GetAPIServer().Configure().Set("anonymous-auth", "true")
	})
	cs := env.Admin.Clientset(t)
	ctx := context.Background()
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "anonymous-reader"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectrulesreviews"}, Verbs: []string{"create"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "anonymous-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "anonymous-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:anonymous"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// RBAC bindings reach the authorizer's cache asynchronously.
	var out *Outcome
	for range 20 {
		out = run(t, Options{}, env.Admin.Config.Host)
		if rs := byCheck(out, "probe-apiserver-anonymous"); len(rs) == 1 && rs[0].Status == control.StatusFail {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	r := want(t, out, "probe-apiserver-anonymous", control.StatusFail)
	if r.Severity != control.SeverityCritical || !strings.Contains(r.Message, "pods") {
		t.Errorf("severity %s message %q", r.Severity, r.Message)
	}
	v := want(t, out, "probe-apiserver-version", control.StatusFail)
	if !strings.HasPrefix(v.Evidence.Value, "HTTP 200; .gitVersion=v1.") || v.Evidence.Location != strings.TrimSuffix(env.Admin.Config.Host, "/")+"/version" {
		t.Errorf("version evidence %+v", v.Evidence)
	}

	etcdURL := cp.Etcd.URL.String()
	out = run(t, Options{}, etcdURL)
	want(t, out, "probe-etcd-version", control.StatusFail)
	want(t, out, "probe-etcd-insecure-http", control.StatusFail)
	e := want(t, out, "probe-etcd-no-client-auth", control.StatusFail)
	if !strings.Contains(e.Evidence.Value, ".count=") || e.Evidence.Value == "HTTP 200; .count=0" {
		t.Errorf("etcd evidence %q (the API server's keys should be counted)", e.Evidence.Value)
	}
}

// TestRealAPIServerHardened starts the real kube-apiserver with anonymous
// authentication off for everything but the health endpoints (a
// structured AuthenticationConfiguration: envtest's readiness check is
// itself anonymous, so --anonymous-auth=false would never become ready):
// it must be reported clean.
func TestRealAPIServerHardened(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "authn.yaml")
	const authn = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
  - path: /healthz
`
	if err := os.WriteFile(cfg, []byte(authn), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testenv.StartCustom(t, func(c *envtest.ControlPlane) {
		args := c.GetAPIServer().Configure()
		args.Disable("anonymous-auth")
		args.Set("authentication-config", cfg)
	})
	out := run(t, Options{}, env.Admin.Config.Host)
	want(t, out, "probe-apiserver-anonymous", control.StatusPass)
	want(t, out, "probe-apiserver-version", control.StatusPass)
	if len(out.Results) != 2 || len(out.Errors) != 0 {
		t.Errorf("unexpected results: %s", dump(out))
	}
}

// TestRealEtcdClientCertAuth starts the real etcd with TLS client
// certificate authentication: the probe, which has no certificate, must
// report it clean.
func TestRealEtcdClientCertAuth(t *testing.T) {
	dir, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ca, caKey := writeCert(t, tmp, "ca", nil, nil)
	writeCert(t, tmp, "server", ca, caKey)
	port := freePort(t)
	peer := freePort(t)
	u := "https://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(filepath.Join(dir, "etcd"),
		"--data-dir", filepath.Join(tmp, "data"),
		"--listen-client-urls", u, "--advertise-client-urls", u,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peer),
		"--client-cert-auth", "--trusted-ca-file", filepath.Join(tmp, "ca.crt"),
		"--cert-file", filepath.Join(tmp, "server.crt"), "--key-file", filepath.Join(tmp, "server.key"),
	)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not listen: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := run(t, Options{Services: []string{"etcd"}}, u)
	for _, id := range []string{"probe-etcd-no-client-auth", "probe-etcd-version", "probe-etcd-insecure-http"} {
		r := want(t, out, id, control.StatusPass)
		if !strings.Contains(r.Evidence.Value, "client certificate requested") {
			t.Errorf("%s evidence %q", id, r.Evidence.Value)
		}
	}
	// Without naming the service, a TLS port that demands a client
	// certificate proves nothing: no result, no error.
	out = run(t, Options{}, u)
	if len(out.Results) != 0 || out.Stats.Open != 1 {
		t.Errorf("unnamed TLS client-auth port: %s (stats %+v)", dump(out), out.Stats)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCert writes name.crt and name.key under dir: a CA when parent is
// nil, else a server certificate for 127.0.0.1 signed by parent.
func writeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "rampart-test-" + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
