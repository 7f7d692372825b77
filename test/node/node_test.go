package node_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/testenv"
)

// expect is the status and evidence origin one control plane should get.
type expect struct{ status, origin string }

// checks are the CIS checks the two control planes must get, the hardened
// one first. comp says whose result it is: the API server, etcd, or the
// etcd data directory (a file check).
var checks = []struct {
	id, comp           string
	hardened, insecure expect
}{
	{"1.1.11", "etcd-data-dir", expect{"pass", "stat"}, expect{"fail", "stat"}},
	{"1.2.1", "apiserver", expect{"pass", "file"}, expect{"fail", "file"}},
	{"1.2.3", "apiserver", expect{"pass", "flag"}, expect{"manual", "absent"}},
	{"1.2.4", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.5", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.6", "apiserver", expect{"pass", "flag"}, expect{"fail", "flag"}},
	{"1.2.7", "apiserver", expect{"pass", "flag"}, expect{"fail", "flag"}},
	{"1.2.8", "apiserver", expect{"pass", "flag"}, expect{"fail", "flag"}},
	{"1.2.9", "apiserver", expect{"pass", "flag"}, expect{"manual", "absent"}},
	{"1.2.11", "apiserver", expect{"pass", "flag"}, expect{"manual", "absent"}},
	// envtest disables ServiceAccount; the hardened server drops that flag.
	{"1.2.12", "apiserver", expect{"pass", "default"}, expect{"fail", "flag"}},
	{"1.2.13", "apiserver", expect{"pass", "default"}, expect{"pass", "default"}},
	{"1.2.14", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.15", "apiserver", expect{"pass", "flag"}, expect{"fail", "flag"}},
	{"1.2.16", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.17", "apiserver", expect{"pass", "flag"}, expect{"fail", "default"}},
	{"1.2.18", "apiserver", expect{"pass", "flag"}, expect{"fail", "default"}},
	{"1.2.19", "apiserver", expect{"pass", "flag"}, expect{"fail", "default"}},
	{"1.2.20", "apiserver", expect{"manual", "flag"}, expect{"manual", "default"}},
	{"1.2.21", "apiserver", expect{"pass", "flag"}, expect{"pass", "default"}},
	{"1.2.22", "apiserver", expect{"pass", "flag"}, expect{"pass", "flag"}},
	{"1.2.23", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.24", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.26", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.27", "apiserver", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"1.2.28", "apiserver", expect{"pass", "file"}, expect{"fail", "absent"}},
	{"1.2.29", "apiserver", expect{"pass", "flag"}, expect{"manual", "absent"}},
	{"3.2.1", "apiserver", expect{"pass", "file"}, expect{"fail", "absent"}},
	{"3.2.2", "apiserver", expect{"pass", "file"}, expect{"warn", "absent"}},
	{"2.1", "etcd", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"2.2", "etcd", expect{"pass", "flag"}, expect{"fail", "default"}},
	{"2.3", "etcd", expect{"pass", "default"}, expect{"pass", "default"}},
	{"2.4", "etcd", expect{"pass", "flag"}, expect{"fail", "absent"}},
	{"2.5", "etcd", expect{"pass", "flag"}, expect{"fail", "default"}},
	{"2.6", "etcd", expect{"pass", "default"}, expect{"pass", "default"}},
	{"2.7", "etcd", expect{"pass", "flag"}, expect{"manual", "absent"}},
}

// plane is what identifies one started control plane among the processes
// of this machine (other test packages may run API servers too).
type plane struct {
	name    string
	certDir string // the API server's --cert-dir
	dataDir string // etcd's --data-dir
	host    string // the API server's URL
}

// TestNodeTellsHardenedFromInsecure starts the real kube-apiserver and etcd
// twice, hardened and insecure, runs the rampart binary on this machine
// and holds each control plane's results to the table, check by check.
func TestNodeTellsHardenedFromInsecure(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rampart").CombinedOutput(); err != nil {
		t.Fatalf("building rampart: %v\n%s", err, out)
	}
	hard := startHardened(t)
	insecure := startInsecure(t)

	// The planes are what the table says: anonymous requests read the
	// insecure API server and are refused by the hardened one.
	for _, c := range []struct {
		p    plane
		want int
	}{{hard, http.StatusUnauthorized}, {insecure, http.StatusOK}} {
		if got := anonymousGet(t, c.p.host, "/api/v1/namespaces"); got != c.want {
			t.Fatalf("%s API server: anonymous GET /api/v1/namespaces answered %d, want %d", c.p.name, got, c.want)
		}
	}

	cmd := exec.Command(bin, "node", "-o", "json", "--no-color")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("rampart node: %v\n%s", err, stderr.String())
	}
	var res report.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("rampart node -o json: %v\n%s", err, stdout.String())
	}
	if len(res.Errors) > 0 {
		t.Fatalf("input errors: %+v", res.Errors)
	}

	differ := 0
	for _, c := range checks {
		t.Run(c.id, func(t *testing.T) {
			h := find(t, res.Findings, "cis-"+c.id, c.comp, hard)
			i := find(t, res.Findings, "cis-"+c.id, c.comp, insecure)
			for _, got := range []struct {
				p    plane
				f    report.Finding
				want expect
			}{{hard, h, c.hardened}, {insecure, i, c.insecure}} {
				if got.f.Status != got.want.status || got.f.Evidence == nil || got.f.Evidence.Origin != got.want.origin {
					t.Errorf("%s: %s %s (%s) evidence %+v, want %s from %s",
						got.p.name, got.f.Control, got.f.Status, got.f.Message, got.f.Evidence, got.want.status, got.want.origin)
				}
			}
			if h.Status != i.Status {
				differ++
			}
			t.Logf("%-7s hardened %-6s (%s: %s)  insecure %-6s (%s: %s)", c.id,
				h.Status, origin(h), value(h), i.Status, origin(i), value(i))
		})
	}
	// The evidence names what was read.
	h := find(t, res.Findings, "cis-1.2.1", "apiserver", hard)
	if h.Evidence == nil || !strings.HasSuffix(h.Evidence.Location, "authn.yaml#anonymous.conditions[].path") ||
		h.Evidence.Value != "true for /livez,/readyz,/healthz" {
		t.Errorf("1.2.1 hardened evidence %+v, want the AuthenticationConfiguration's health paths", h.Evidence)
	}
	if e := find(t, res.Findings, "cis-1.2.28", "apiserver", hard).Evidence; e == nil || e.Value != "aescbc" {
		t.Errorf("1.2.28 hardened evidence %+v, want aescbc", e)
	}
	if e := find(t, res.Findings, "cis-2.2", "etcd", insecure).Evidence; e == nil || e.Value != "false" || e.Location != "etcd --client-cert-auth default" {
		t.Errorf("2.2 insecure evidence %+v, want etcd's default false", e)
	}
	t.Logf("rampart node told the control planes apart on %d of %d checks (%d findings in all)", differ, len(checks), len(res.Findings))
	if differ < len(checks)-8 {
		t.Errorf("only %d of %d checks differ", differ, len(checks))
	}
}

// anonymousGet sends a request without credentials and returns the status.
func anonymousGet(t *testing.T, host, path string) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a throwaway local API server's own certificate
	}}
	resp, err := c.Get(strings.TrimSuffix(host, "/") + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func origin(f report.Finding) string {
	if f.Evidence == nil {
		return ""
	}
	return f.Evidence.Origin
}

func value(f report.Finding) string {
	if f.Evidence == nil {
		return ""
	}
	v := f.Evidence.Value
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
}

var pidRE = regexp.MustCompile(`^(kube-apiserver|etcd) \(pid (\d+)\)$`)

// find returns the result of check id for p's component: for processes,
// the one whose command line names p's cert or data directory.
func find(t *testing.T, fs []report.Finding, id, comp string, p plane) report.Finding {
	t.Helper()
	var match []report.Finding
	for _, f := range fs {
		if f.Control != id {
			continue
		}
		switch comp {
		case "etcd-data-dir":
			if f.Object.Kind == "File" && f.Object.Name == p.dataDir {
				match = append(match, f)
			}
		case "apiserver", "etcd":
			m := pidRE.FindStringSubmatch(f.Object.Name)
			if f.Object.Kind != "Process" || m == nil || (m[1] == "etcd") != (comp == "etcd") {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + m[2] + "/cmdline")
			if err != nil {
				continue
			}
			want := "--cert-dir=" + p.certDir + "\x00"
			if comp == "etcd" {
				want = "--data-dir=" + p.dataDir + "\x00"
			}
			if bytes.Contains(cmdline, []byte(want)) {
				match = append(match, f)
			}
		}
	}
	if len(match) != 1 {
		t.Fatalf("%s: %d results for the %s %s, want 1", id, len(match), p.name, comp)
	}
	return match[0]
}

// startInsecure starts the control plane the issue calls insecure:
// anonymous authentication, AlwaysAllow, profiling, no audit log and no
// encryption, etcd as envtest runs it (plain HTTP, no client
// certificates), its data directory readable by all.
//
// Anonymous authentication is enabled in an AuthenticationConfiguration:
// kube-apiserver resets --anonymous-auth=true to false with the
// AlwaysAllow authorizer ("AnonymousAuth is not allowed with the
// AlwaysAllow authorizer"), which would leave it unready for envtest's
// anonymous readiness check and not insecure at all; the file's anonymous
// section is not reset.
func startInsecure(t *testing.T) plane {
	base := t.TempDir()
	p := plane{name: "insecure", certDir: filepath.Join(base, "apiserver"), dataDir: filepath.Join(base, "etcd")}
	mkdir(t, p.certDir, 0o700)
	mkdir(t, p.dataDir, 0o755)
	authn := write(t, base, "authn.yaml", `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
`)
	env := testenv.StartCustom(t, func(cp *envtest.ControlPlane) {
		cp.Etcd.DataDir = p.dataDir
		api := cp.GetAPIServer()
		api.CertDir = p.certDir
		args := api.Configure()
		args.Disable("anonymous-auth")
		args.Set("authentication-config", authn)
		args.Set("authorization-mode", "AlwaysAllow")
		args.Set("profiling", "true")
	})
	p.host = env.Admin.Config.Host
	return p
}

// startHardened starts a control plane set up as CIS asks: etcd serving
// TLS with client and peer certificate authentication (its /health is
// read by envtest on the plain-HTTP metrics listener), the API server
// with anonymous requests limited to health endpoints, Node,RBAC, the
// CIS admission plugins, an audit log and policy, Secrets encrypted
// with aescbc, profiling off and strong ciphers.
func startHardened(t *testing.T) plane {
	base := t.TempDir()
	p := plane{name: "hardened", certDir: filepath.Join(base, "apiserver"), dataDir: filepath.Join(base, "etcd")}
	mkdir(t, p.certDir, 0o700)
	mkdir(t, p.dataDir, 0o700)
	pki := filepath.Join(base, "pki")
	mkdir(t, pki, 0o700)

	etcdCA := newCA(t, pki, "etcd-ca")
	etcdCA.issue(t, pki, "etcd-server", true)
	etcdCA.issue(t, pki, "etcd-peer", true)
	etcdCA.issue(t, pki, "apiserver-etcd-client", false)
	kubeletCA := newCA(t, pki, "kubelet-ca")
	kubeletCA.issue(t, pki, "apiserver-kubelet-client", false)
	file := func(name string) string { return filepath.Join(pki, name) }

	authn := write(t, base, "authn.yaml", `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
  - path: /healthz
`)
	policy := write(t, base, "audit-policy.yaml", `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: [secrets, configmaps]
  - group: authentication.k8s.io
    resources: [tokenreviews]
- level: Metadata
  resources:
  - group: ""
    resources: [pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy]
- level: Metadata
`)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	encryption := write(t, base, "encryption.yaml", `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: `+base64.StdEncoding.EncodeToString(key)+`
  - identity: {}
`)
	admission := write(t, base, "admission.yaml", `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: EventRateLimit
  configuration:
    apiVersion: eventratelimit.admission.k8s.io/v1alpha1
    kind: Configuration
    limits:
    - type: Server
      qps: 50
      burst: 100
`)
	client, peer, metrics := freePort(t), freePort(t), freePort(t)
	clientURL := "https://127.0.0.1:" + client
	peerURL := "https://127.0.0.1:" + peer

	env := testenv.StartCustom(t, func(cp *envtest.ControlPlane) {
		// envtest polls /health on Etcd.URL (and would point the API
		// server there): give it the metrics listener, serve clients on
		// TLS with client certificates.
		cp.Etcd.URL = &url.URL{Scheme: "http", Host: "127.0.0.1:" + metrics}
		cp.Etcd.DataDir = p.dataDir
		e := cp.Etcd.Configure()
		e.Set("listen-metrics-urls", cp.Etcd.URL.String())
		e.Set("listen-client-urls", clientURL)
		e.Set("advertise-client-urls", clientURL)
		e.Set("listen-peer-urls", peerURL)
		e.Set("initial-advertise-peer-urls", peerURL)
		e.Set("initial-cluster", "default="+peerURL)
		e.Set("cert-file", file("etcd-server.crt"))
		e.Set("key-file", file("etcd-server.key"))
		e.Set("trusted-ca-file", file("etcd-ca.crt"))
		e.Set("client-cert-auth", "true")
		e.Set("peer-cert-file", file("etcd-peer.crt"))
		e.Set("peer-key-file", file("etcd-peer.key"))
		e.Set("peer-trusted-ca-file", file("etcd-ca.crt"))
		e.Set("peer-client-cert-auth", "true")

		api := cp.GetAPIServer()
		api.CertDir = p.certDir
		a := api.Configure()
		a.Set("etcd-servers", clientURL)
		a.Set("etcd-cafile", file("etcd-ca.crt"))
		a.Set("etcd-certfile", file("apiserver-etcd-client.crt"))
		a.Set("etcd-keyfile", file("apiserver-etcd-client.key"))
		// The flag and the file's anonymous section exclude each other.
		a.Disable("anonymous-auth")
		a.Set("authentication-config", authn)
		a.Set("authorization-mode", "Node,RBAC")
		a.Disable("disable-admission-plugins")
		a.Set("enable-admission-plugins", "NodeRestriction,AlwaysPullImages,DenyServiceExternalIPs,EventRateLimit")
		a.Set("admission-control-config-file", admission)
		a.Set("profiling", "false")
		a.Set("audit-log-path", filepath.Join(base, "audit.log"))
		a.Set("audit-policy-file", policy)
		a.Set("audit-log-maxage", "30")
		a.Set("audit-log-maxbackup", "10")
		a.Set("audit-log-maxsize", "100")
		a.Set("encryption-provider-config", encryption)
		a.Set("service-account-lookup", "true")
		a.Set("request-timeout", "300s")
		a.Set("kubelet-client-certificate", file("apiserver-kubelet-client.crt"))
		a.Set("kubelet-client-key", file("apiserver-kubelet-client.key"))
		a.Set("kubelet-certificate-authority", file("kubelet-ca.crt"))
		// envtest writes apiserver.crt and apiserver.key into the cert dir.
		a.Set("tls-cert-file", filepath.Join(p.certDir, "apiserver.crt"))
		a.Set("tls-private-key-file", filepath.Join(p.certDir, "apiserver.key"))
		a.Set("tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
	})
	p.host = env.Admin.Config.Host
	return p
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // not narrowed by the umask
		t.Fatal(err)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// ca is a certificate authority that writes what it issues to files.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newCA(t *testing.T, dir, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	return &ca{cert: cert, key: key}
}

// issue writes name.crt and name.key: a certificate for 127.0.0.1 and
// localhost usable by servers and clients (server also) or clients only.
func (c *ca) issue(t *testing.T, dir, name string, server bool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name, Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kder)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(fmt.Errorf("writing %s: %w", path, err))
	}
}
