package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
)

func TestImageVerifyCommand(t *testing.T) {
	host := signtest.StartRegistry(t, true)
	good, other := signtest.NewKey(t), signtest.NewKey(t)
	signed := signtest.PushImage(t, host, "app:signed")
	signtest.SignLegacy(t, signed, signed.DigestStr(), good, nil)
	bundled := signtest.PushImage(t, host, "app:bundled")
	signtest.SignBundle(t, bundled, bundled.DigestStr(), good, nil, false)
	wrong := signtest.PushImage(t, host, "app:wrong")
	signtest.SignLegacy(t, wrong, wrong.DigestStr(), other, nil)
	signtest.PushImage(t, host, "app:unsigned")

	ca := signtest.NewFulcio(t)
	_, rootPath := ca.TrustedRoot(t)
	kl := signtest.NewKey(t)
	keyless := signtest.PushImage(t, host, "app:keyless")
	signtest.SignLegacy(t, keyless, keyless.DigestStr(), kl, signtest.PEMCert(ca.Issue(t, kl, "ci@example.com", "https://issuer.example.com")))

	dir := t.TempDir()
	keyPath := filepath.Join(dir, "cosign.pub")
	der, err := x509.MarshalPKIXPublicKey(&good.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	fp := signtest.PublicKey(t, good).Fingerprint
	keyless1 := []string{"--certificate-oidc-issuer", "https://issuer.example.com", "--trusted-root", rootPath, "--insecure-ignore-tlog", "--insecure-ignore-sct"}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
		status map[string]string // image ref → finding status
	}{
		{"signed tag and bundle", []string{host + "/app:signed", host + "/app:bundled", "--key", keyPath}, ExitOK,
			[]string{"app:signed@sha256:", "verified, signed by key " + fp, ".sig#sha256:", "app:bundled@sha256:"},
			map[string]string{host + "/app:signed": "pass", host + "/app:bundled": "pass"}},
		{"unsigned and wrong key fail", []string{host + "/app:signed", host + "/app:unsigned", host + "/app:wrong", "--key", keyPath}, ExitFindings,
			[]string{"app:unsigned@sha256:", "not signed", "other-signer: signature does not verify with key"},
			map[string]string{host + "/app:signed": "pass", host + "/app:unsigned": "fail", host + "/app:wrong": "fail"}},
		{"keyless identity", append([]string{host + "/app:keyless", "--certificate-identity", "ci@example.com"}, keyless1...), ExitOK,
			[]string{"signed by ci@example.com (issuer https://issuer.example.com)"},
			map[string]string{host + "/app:keyless": "pass"}},
		{"keyless other identity", append([]string{host + "/app:keyless", "--certificate-identity-regexp", "^release@"}, keyless1...), ExitFindings,
			[]string{"other-signer", "ci@example.com"},
			map[string]string{host + "/app:keyless": "fail"}},
		{"missing image is an error", []string{host + "/app:nope", "--key", keyPath}, ExitUsage,
			[]string{"not found"}, map[string]string{host + "/app:nope": "warn"}},
		{"no key nor identity", []string{host + "/app:signed"}, ExitUsage, []string{"give --key"}, nil},
		{"key and identity", []string{host + "/app:signed", "--key", keyPath, "--certificate-identity", "x"}, ExitUsage, []string{"exclude each other"}, nil},
		{"keyless without trusted root", []string{host + "/app:signed", "--certificate-identity", "x", "--certificate-oidc-issuer", "y"}, ExitUsage, []string{"--trusted-root"}, nil},
		{"bad key file", []string{host + "/app:signed", "--key", rootPath}, ExitUsage, []string{"no PEM block"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(append([]string{"image", "verify", "-o", "json"}, tc.args...), IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr %q, want %q", errb.String(), s)
				}
			}
			if tc.status == nil {
				return
			}
			validateReport(t, out.Bytes())
			var res report.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("json report: %v\n%s", err, out.String())
			}
			got := map[string]string{}
			for _, f := range res.Findings {
				if f.Control != "image-unsigned" || f.Object.Kind != "Image" || f.Evidence == nil {
					t.Errorf("finding %+v", f)
				}
				if f.Status == "pass" && !strings.HasPrefix(f.Evidence.Value, "signed by ") {
					t.Errorf("evidence %+v", f.Evidence)
				}
				got[f.Object.Name] = f.Status
			}
			if len(got) != len(tc.status) {
				t.Fatalf("findings %v, want %v", got, tc.status)
			}
			for ref, st := range tc.status {
				if got[ref] != st {
					t.Errorf("%s: %s, want %s", ref, got[ref], st)
				}
			}
		})
	}
}

func validateReport(t *testing.T, b []byte) {
	t.Helper()
	f, err := os.Open("../../schema/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://github.com/rampart-dev/rampart/schema/report.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("report does not match the schema: %v", err)
	}
}
