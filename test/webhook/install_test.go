package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/cli"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/testenv"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// pinned is the image of the generated manifests: a digest, as the
// image-not-pinned control wants.
const pinned = "ghcr.io/rampart-dev/rampart@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// rampart runs the CLI in process.
func rampart(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// TestInstallManifestCurrent fails when deploy/webhook/ is not what
// `rampart webhook install --cert-manager` prints (make generate-webhook).
func TestInstallManifestCurrent(t *testing.T) {
	code, out, stderr := rampart("webhook", "install", "--cert-manager", "--image", pinned)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile("../../deploy/webhook/webhook-cert-manager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("deploy/webhook/webhook-cert-manager.yaml is stale: run make generate-webhook")
	}
}

// TestInstallManifestsPassScan: Rampart's own manifests, in every variant,
// pass Rampart's scan with no failing finding and no exception.
func TestInstallManifestsPassScan(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("webhook:\n  enforce: high\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"self-signed", nil},
		{"self-signed json, background, config, fail-closed", []string{"-o", "json", "--background", "1h", "--config", cfg, "--fail-closed"}},
		{"cert-manager", []string{"--cert-manager"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := rampart(append([]string{"webhook", "install", "--image", pinned}, tt.args...)...)
			if code != 0 {
				t.Fatalf("install: exit %d: %s", code, stderr)
			}
			file := filepath.Join(t.TempDir(), "webhook.yaml")
			if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, stderr = rampart("scan", "-o", "json", file)
			var r report.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("scan output: %v\n%s", err, stderr)
			}
			var failing []string
			for _, f := range r.Findings {
				failing = append(failing, f.Control+" on "+f.Object.Kind+"/"+f.Object.Name+" ("+f.Status+")")
			}
			if code != cli.ExitOK || len(failing) > 0 || len(r.Errors) > 0 || r.Summary.Objects < 10 {
				t.Fatalf("scan: exit %d, %d objects, findings %v, errors %+v", code, r.Summary.Objects, failing, r.Errors)
			}
		})
	}
}

// TestInstallOnAPIServer applies the installation to the real API server
// with --apply and checks every object was accepted, that a second run
// keeps the TLS material, and that a serving certificate close to expiry
// is replaced under the same CA (the caBundle does not change).
func TestInstallOnAPIServer(t *testing.T) {
	env := testenv.Start(t)
	kubeconfig := env.Admin.KubeconfigFile(t)
	cs := env.Admin.Clientset(t)
	ctx := context.Background()
	const ns, name = "rampart-install-test", "rampart-install"
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("webhook:\n  warn: medium\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"webhook", "install", "--apply", "--kubeconfig", kubeconfig, "--namespace", ns, "--name", name,
		"--image", pinned, "--config", cfg, "--background", "1h", "--exclude-namespaces", "legacy"}
	t.Cleanup(func() {
		// Unregister, so that no later test of this control plane calls a
		// webhook without endpoints.
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{})
	})
	code, out, stderr := rampart(args...)
	if code != 0 {
		t.Fatalf("install --apply: exit %d: %s%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "tls: new CA") {
		t.Errorf("first install did not report a new CA: %s", stderr)
	}
	// Every object printed as applied exists and carries Rampart's label.
	dyn, err := dynamic.NewForConfig(rest.CopyConfig(env.Admin.Config))
	if err != nil {
		t.Fatal(err)
	}
	code, printed, stderr := rampart("webhook", "install", "-o", "json", "--namespace", ns, "--name", name, "--image", pinned,
		"--config", cfg, "--background", "1h", "--exclude-namespaces", "legacy")
	if code != 0 {
		t.Fatalf("install -o json: exit %d: %s", code, stderr)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(printed), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 12 || strings.Count(out, "serverside-applied") != len(list.Items) {
		t.Fatalf("%d objects printed, applied:\n%s", len(list.Items), out)
	}
	for _, item := range list.Items {
		u := &unstructured.Unstructured{Object: item}
		gvr, err := webhook.GVR(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
			continue
		}
		if got.GetLabels()[webhook.SelfLabel] != webhook.SelfLabelValue {
			t.Errorf("%s %s lacks %s", u.GetKind(), u.GetName(), webhook.SelfLabel)
		}
		managed := false
		for _, mf := range got.GetManagedFields() {
			managed = managed || (mf.Manager == webhook.FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply)
		}
		if !managed {
			t.Errorf("%s %s not server-side applied by %q", u.GetKind(), u.GetName(), webhook.FieldManager)
		}
	}

	caBundle := func() []byte {
		vwc, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return vwc.Webhooks[0].ClientConfig.CABundle
	}
	secret := func(n string) *corev1.Secret {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ca, serving, bundle := secret(webhook.CASecretName(name)), secret(webhook.TLSSecretName(name)), caBundle()
	if !bytes.Equal(bundle, ca.Data["tls.crt"]) || !bytes.Equal(serving.Data["ca.crt"], ca.Data["tls.crt"]) || serving.Type != corev1.SecretTypeTLS {
		t.Fatalf("caBundle, CA Secret and serving Secret's ca.crt disagree")
	}

	// Second run: nothing to rotate.
	code, _, stderr = rampart(args...)
	if code != 0 || !strings.Contains(stderr, "TLS material kept") {
		t.Fatalf("second install: exit %d: %s", code, stderr)
	}
	if !bytes.Equal(secret(webhook.TLSSecretName(name)).Data["tls.crt"], serving.Data["tls.crt"]) {
		t.Errorf("serving certificate replaced although valid")
	}

	// A serving certificate that expires in 9 days is replaced; the CA
	// and the caBundle stay.
	old := webhook.TLSMaterial{CACert: ca.Data["tls.crt"], CAKey: ca.Data["tls.key"]}
	expiring, _, err := webhook.EnsureTLS(&old, webhook.ServiceDNSNames(name, ns), time.Now().Add(-webhook.ServingValidity+9*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	serving.Data["tls.crt"], serving.Data["tls.key"] = expiring.Cert, expiring.Key
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, serving, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = rampart(args...)
	if code != 0 || !strings.Contains(stderr, "new serving certificate: the existing one expires") {
		t.Fatalf("rotation: exit %d: %s", code, stderr)
	}
	rotated := secret(webhook.TLSSecretName(name))
	if bytes.Equal(rotated.Data["tls.crt"], expiring.Cert) || !bytes.Equal(caBundle(), bundle) ||
		!bytes.Equal(secret(webhook.CASecretName(name)).Data["tls.crt"], ca.Data["tls.crt"]) {
		t.Errorf("rotation: serving certificate replaced %v, caBundle kept %v",
			!bytes.Equal(rotated.Data["tls.crt"], expiring.Cert), bytes.Equal(caBundle(), bundle))
	}
}

// TestInstallCertManagerDryRun: cert-manager's CRDs are not installed, so
// the core objects of the cert-manager variant go through a server-side
// dry run (their Issuer and Certificate shapes are unit-tested).
func TestInstallCertManagerDryRun(t *testing.T) {
	env := testenv.Start(t)
	dyn, err := dynamic.NewForConfig(rest.CopyConfig(env.Admin.Config))
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := rampart("webhook", "install", "--cert-manager", "-o", "json", "--image", pinned, "--namespace", "rampart-dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The namespace must exist for namespaced dry runs.
	var core int
	for _, item := range list.Items {
		u := &unstructured.Unstructured{Object: item}
		if u.GetKind() != "Namespace" {
			continue
		}
		if _, err := dyn.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Apply(ctx, u.GetName(), u,
			metav1.ApplyOptions{FieldManager: webhook.FieldManager}); err != nil {
			t.Fatal(err)
		}
	}
	for _, item := range list.Items {
		u := &unstructured.Unstructured{Object: item}
		gvr, err := webhook.GVR(u)
		if err != nil {
			t.Fatal(err)
		}
		if gvr.Group == "cert-manager.io" {
			continue
		}
		core++
		_, err = dyn.Resource(gvr).Namespace(u.GetNamespace()).Apply(ctx, u.GetName(), u,
			metav1.ApplyOptions{FieldManager: webhook.FieldManager, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Errorf("%s %s rejected: %v", u.GetKind(), u.GetName(), err)
		}
	}
	if core != 9 {
		t.Errorf("%d core objects, want 9", core)
	}
}
