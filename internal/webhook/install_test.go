package webhook

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var testDNS = ServiceDNSNames("rampart-webhook", "rampart-system")

// verifies checks that m's serving certificate chains to m's CA bundle for
// every name in dnsNames at time at.
func verifies(t *testing.T, m TLSMaterial, at time.Time) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CABundle) {
		t.Fatal("CA bundle holds no certificate")
	}
	cert, _, err := parsePair(m.Cert, m.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range testDNS {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: at}); err != nil {
			t.Errorf("serving certificate for %s: %v", n, err)
		}
	}
}

func TestEnsureTLS(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh, changes, err := EnsureTLS(nil, testDNS, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changes, []string{"new CA", "new serving certificate"}) {
		t.Errorf("changes %q", changes)
	}
	verifies(t, fresh, now)
	ca, _, err := parsePair(fresh.CACert, fresh.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := parsePair(fresh.Cert, fresh.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.NotAfter.Sub(now) != CAValidity || cert.NotAfter.Sub(now) != ServingValidity || key.Curve.Params().Name != "P-256" {
		t.Errorf("CA %v until %v, serving until %v, curve %s", ca.IsCA, ca.NotAfter, cert.NotAfter, key.Curve.Params().Name)
	}
	other, _, err := EnsureTLS(nil, testDNS, now)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		prev        TLSMaterial
		at          time.Time
		keepCA      bool // the CA (and its bundle) stays
		keepServing bool
		wantChange  string
		oldInBundle bool
	}{
		{name: "valid material is kept", prev: fresh, at: now.Add(300 * 24 * time.Hour), keepCA: true, keepServing: true},
		{name: "serving certificate renewed 30 days before expiry, CA kept", prev: fresh, at: now.Add(ServingValidity - 29*24*time.Hour),
			keepCA: true, wantChange: "new serving certificate: the existing one expires"},
		{name: "serving certificate of another CA replaced", prev: TLSMaterial{CACert: fresh.CACert, CAKey: fresh.CAKey, Cert: other.Cert, Key: other.Key},
			at: now, keepCA: true, wantChange: "not signed by the CA"},
		{name: "missing serving certificate issued", prev: TLSMaterial{CACert: fresh.CACert, CAKey: fresh.CAKey}, at: now, keepCA: true,
			wantChange: "unusable"},
		{name: "expiring CA replaced, old CA still trusted", prev: fresh, at: now.Add(CAValidity - 10*24*time.Hour),
			wantChange: "new CA: the existing one expires", oldInBundle: true},
		{name: "garbage CA replaced", prev: TLSMaterial{CACert: []byte("garbage"), CAKey: []byte("x"), Cert: fresh.Cert, Key: fresh.Key}, at: now,
			wantChange: "new CA: the existing one is unusable"},
		{name: "CA key of another CA replaced", prev: TLSMaterial{CACert: fresh.CACert, CAKey: other.CAKey}, at: now,
			wantChange: "does not match", oldInBundle: true},
		{name: "serving certificate as CA replaced", prev: TLSMaterial{CACert: fresh.Cert, CAKey: fresh.Key}, at: now,
			wantChange: "not a CA", oldInBundle: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := tt.prev
			m, changes, err := EnsureTLS(&prev, testDNS, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			verifies(t, m, tt.at)
			if got := bytes.Equal(m.CACert, prev.CACert) && bytes.Equal(m.CAKey, prev.CAKey); got != tt.keepCA {
				t.Errorf("CA kept = %v, want %v", got, tt.keepCA)
			}
			if tt.keepCA && !bytes.Equal(m.CABundle, prev.CACert) {
				t.Errorf("CA bundle changed although the CA was kept")
			}
			if got := bytes.Equal(m.Cert, prev.Cert); got != tt.keepServing {
				t.Errorf("serving certificate kept = %v, want %v", got, tt.keepServing)
			}
			joined := strings.Join(changes, "; ")
			if tt.wantChange == "" && len(changes) > 0 || !strings.Contains(joined, tt.wantChange) {
				t.Errorf("changes %q, want %q", joined, tt.wantChange)
			}
			if got := bytes.Contains(m.CABundle, prev.CACert) && !tt.keepCA; got != tt.oldInBundle {
				t.Errorf("old CA in the new bundle = %v, want %v", got, tt.oldInBundle)
			}
		})
	}
}

// kinds lists "Kind/name" of objs.
func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range objs {
		out = append(out, u.GetKind()+"/"+u.GetName())
	}
	return out
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind {
			return u
		}
	}
	t.Fatalf("no %s in %v", kind, kinds(objs))
	return nil
}

func TestManifests(t *testing.T) {
	tlsm, _, err := EnsureTLS(nil, testDNS, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const image = "ghcr.io/rampart-dev/rampart@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name  string
		opts  InstallOptions
		kinds []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{name: "self-signed defaults", opts: InstallOptions{Image: image, TLS: &tlsm},
			kinds: []string{"Namespace/rampart-system", "ServiceAccount/rampart-webhook", "ClusterRole/rampart-webhook", "ClusterRoleBinding/rampart-webhook",
				"Secret/rampart-webhook-ca", "Secret/rampart-webhook-tls", "Service/rampart-webhook", "Deployment/rampart-webhook",
				"PodDisruptionBudget/rampart-webhook", "NetworkPolicy/rampart-webhook", "ValidatingWebhookConfiguration/rampart-webhook"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				vwc := find(t, objs, "ValidatingWebhookConfiguration")
				hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
				hook := hooks[0].(map[string]any)
				bundle, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle")
				policy, _, _ := unstructured.NestedString(hook, "failurePolicy")
				timeout, _, _ := unstructured.NestedInt64(hook, "timeoutSeconds")
				if bundle == "" || policy != "Ignore" || timeout != 3 {
					t.Errorf("caBundle set %v, failurePolicy %s, timeout %d", bundle != "", policy, timeout)
				}
				rules, _, _ := unstructured.NestedSlice(find(t, objs, "ClusterRole").Object, "rules")
				if len(rules) != 3 {
					t.Errorf("ClusterRole without --background has %d rules, want 3 (namespaces; workloads and Services for cross-object controls)", len(rules))
				}
				for _, r := range rules {
					verbs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "verbs")
					for _, v := range verbs {
						if v != "get" && v != "list" && v != "watch" {
							t.Errorf("ClusterRole grants %s: %v", v, r)
						}
					}
				}
				d := find(t, objs, "Deployment")
				replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
				containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
				c := containers[0].(map[string]any)
				env, _ := json.Marshal(c["env"])
				if replicas != 3 || c["image"] != image || !strings.Contains(string(env), `"fieldPath":"metadata.namespace"`) {
					t.Errorf("replicas %d image %v env %s", replicas, c["image"], env)
				}
				minAvailable, _, _ := unstructured.NestedFieldNoCopy(find(t, objs, "PodDisruptionBudget").Object, "spec", "minAvailable")
				if minAvailable != int64(2) {
					t.Errorf("PDB minAvailable %v, want 2", minAvailable)
				}
				s, _, _ := unstructured.NestedMap(objs[5].Object, "data")
				if objs[5].GetKind() != "Secret" || len(s) != 3 || s["ca.crt"] == nil {
					t.Errorf("serving Secret data keys %v", s)
				}
			}},
		{name: "cert-manager", opts: InstallOptions{Image: image, CertManager: true},
			kinds: []string{"Namespace/rampart-system", "ServiceAccount/rampart-webhook", "ClusterRole/rampart-webhook", "ClusterRoleBinding/rampart-webhook",
				"Issuer/rampart-webhook-selfsigned", "Certificate/rampart-webhook-ca", "Issuer/rampart-webhook-ca", "Certificate/rampart-webhook",
				"Service/rampart-webhook", "Deployment/rampart-webhook", "PodDisruptionBudget/rampart-webhook", "NetworkPolicy/rampart-webhook",
				"ValidatingWebhookConfiguration/rampart-webhook"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				vwc := find(t, objs, "ValidatingWebhookConfiguration")
				if got := vwc.GetAnnotations()[CertManagerInjectAnnotation]; got != "rampart-system/rampart-webhook" {
					t.Errorf("inject-ca-from %q", got)
				}
				hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
				if _, ok, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "caBundle"); ok {
					t.Errorf("caBundle printed although cert-manager injects it")
				}
				var ca, serving map[string]any
				var issuers []map[string]any
				for _, u := range objs {
					spec, _, _ := unstructured.NestedMap(u.Object, "spec")
					switch u.GetKind() + "/" + u.GetName() {
					case "Certificate/rampart-webhook-ca":
						ca = spec
					case "Certificate/rampart-webhook":
						serving = spec
					case "Issuer/rampart-webhook-selfsigned", "Issuer/rampart-webhook-ca":
						issuers = append(issuers, spec)
					}
				}
				if ca["isCA"] != true || ca["secretName"] != "rampart-webhook-ca" || ca["duration"] != "87600h0m0s" {
					t.Errorf("CA Certificate %v", ca)
				}
				if _, ok := issuers[0]["selfSigned"]; !ok || issuers[1]["ca"].(map[string]any)["secretName"] != "rampart-webhook-ca" {
					t.Errorf("Issuers %v", issuers)
				}
				dns, _, _ := unstructured.NestedStringSlice(serving, "dnsNames")
				ref, _, _ := unstructured.NestedString(serving, "issuerRef", "name")
				if serving["secretName"] != "rampart-webhook-tls" || serving["renewBefore"] != "720h0m0s" || serving["duration"] != "8760h0m0s" ||
					!slices.Equal(dns, testDNS) || ref != "rampart-webhook-ca" {
					t.Errorf("serving Certificate %v", serving)
				}
			}},
		{name: "no secret, fail-closed, one replica, background, config, other names",
			opts: InstallOptions{Image: image, TLS: &tlsm, NoSecret: true, FailClosed: true, Replicas: 1, Background: time.Hour,
				Config: []byte("webhook:\n  enforce: high\n"), Name: "guard", Namespace: "sec", ExcludeNamespaces: []string{"legacy"}},
			kinds: []string{"Namespace/sec", "ServiceAccount/guard", "ClusterRole/guard", "ClusterRoleBinding/guard", "ConfigMap/guard-config",
				"Service/guard", "Deployment/guard", "NetworkPolicy/guard", "ValidatingWebhookConfiguration/guard"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				containers, _, _ := unstructured.NestedSlice(find(t, objs, "Deployment").Object, "spec", "template", "spec", "containers")
				args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
				want := []string{"webhook", "serve", "--addr", ":8443", "--cert-dir", "/tls", "--config", "/etc/rampart/config.yaml", "--fail-closed", "--background", "1h0m0s"}
				if !slices.Equal(args, want) {
					t.Errorf("args %q, want %q", args, want)
				}
				hooks, _, _ := unstructured.NestedSlice(find(t, objs, "ValidatingWebhookConfiguration").Object, "webhooks")
				hook := hooks[0].(map[string]any)
				policy, _, _ := unstructured.NestedString(hook, "failurePolicy")
				svc, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "namespace")
				sel, _ := json.Marshal(hook["namespaceSelector"])
				if policy != "Fail" || svc != "sec" || !strings.Contains(string(sel), `["kube-system","sec","legacy"]`) {
					t.Errorf("failurePolicy %s, service namespace %s, selector %s", policy, svc, sel)
				}
				rules, _, _ := unstructured.NestedSlice(find(t, objs, "ClusterRole").Object, "rules")
				if len(rules) != 3+len(ScanRules) {
					t.Errorf("ClusterRole with --background has %d rules, want %d", len(rules), 3+len(ScanRules))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Manifests(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(objs); !slices.Equal(got, tt.kinds) {
				t.Errorf("objects\n got %v\nwant %v", got, tt.kinds)
			}
			for _, u := range objs {
				if u.GetLabels()[SelfLabel] != SelfLabelValue {
					t.Errorf("%s/%s lacks %s=%s", u.GetKind(), u.GetName(), SelfLabel, SelfLabelValue)
				}
				if _, err := GVR(u); err != nil {
					t.Error(err)
				}
			}
			tt.check(t, objs)
			for _, format := range []string{"yaml", "json"} {
				var buf bytes.Buffer
				if err := WriteManifests(&buf, objs, format, []string{"header"}); err != nil {
					t.Fatal(err)
				}
				if tt.opts.NoSecret || tt.opts.CertManager {
					if bytes.Contains(buf.Bytes(), []byte("PRIVATE KEY")) || bytes.Contains(buf.Bytes(), []byte("tls.key:")) {
						t.Errorf("%s output holds a private key", format)
					}
				}
			}
		})
	}
}

func TestManifestsErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts InstallOptions
		want string
	}{
		{"no image", InstallOptions{CertManager: true}, "no image"},
		{"no TLS", InstallOptions{Image: "x"}, "no TLS material"},
		{"negative replicas", InstallOptions{Image: "x", CertManager: true, Replicas: -1}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Manifests(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if err := WriteManifests(&bytes.Buffer{}, nil, "xml", nil); err == nil {
		t.Error("format xml accepted")
	}
}

// TestScanRulesMatchDeploy holds ScanRules to deploy/rbac.yaml's
// rampart-scanner ClusterRole, which rampart scan --cluster is tested with.
func TestScanRulesMatchDeploy(t *testing.T) {
	data, err := os.ReadFile("../../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Kind == "ClusterRole" {
			if !reflect.DeepEqual(role.Rules, ScanRules) {
				t.Errorf("ScanRules differ from deploy/rbac.yaml:\n got %+v\nwant %+v", ScanRules, role.Rules)
			}
			return
		}
	}
	t.Fatal("no ClusterRole in deploy/rbac.yaml")
}
