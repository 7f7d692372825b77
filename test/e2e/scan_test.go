package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-dev/rampart/internal/report"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/rampart once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rampart")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/rampart")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building rampart: %v", buildErr)
	}
	return binPath
}

// run executes the binary from the repository root.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = "../.."
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running rampart: %v", err)
	}
	if strings.Contains(e.String(), "panic:") || strings.Contains(e.String(), "goroutine ") {
		t.Fatalf("rampart panicked:\n%s", e.String())
	}
	return o.String(), e.String(), code
}

func scanJSON(t *testing.T, args ...string) (*report.Result, int, string) {
	t.Helper()
	out, stderr, code := run(t, append([]string{"scan", "-o", "json"}, args...)...)
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decoding JSON report: %v\nstderr: %s\nstdout: %.500s", err, stderr, out)
	}
	return &r, code, out
}

type want struct {
	control, kind, namespace, name, container, file string
	line                                            int
}

func TestScanExamples(t *testing.T) {
	r, code, raw := scanJSON(t, "examples/")
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (findings at or above low)", code)
	}
	if len(r.Errors) != 0 {
		t.Fatalf("unexpected input errors: %+v", r.Errors)
	}
	if strings.Contains(raw, "Xk9#mP2$vL7qR4@wZ8nT") {
		t.Fatal("the hard-coded password from examples/insecure/payments.yaml appears in the report")
	}
	wants := []want{
		{"privileged-container", "Deployment", "payments", "billing-api", "setup", "examples/insecure/payments.yaml", 23},
		{"image-tag-latest", "Deployment", "payments", "billing-api", "api", "examples/insecure/payments.yaml", 26},
		{"hardcoded-secret-in-env", "Deployment", "payments", "billing-api", "api", "examples/insecure/payments.yaml", 0},
		{"host-path-volume", "Pod", "ops", "debug-tools", "", "examples/insecure/node-escape.yaml", 0},
		{"container-runtime-socket", "Pod", "ops", "debug-tools", "", "examples/insecure/node-escape.yaml", 0},
		{"host-pid", "Pod", "ops", "debug-tools", "", "examples/insecure/node-escape.yaml", 11},
		{"dashboard-skip-login", "Deployment", "kubernetes-dashboard", "kubernetes-dashboard", "", "examples/insecure/dashboard.yaml", 0},
		{"dashboard-exposed", "Service", "kubernetes-dashboard", "kubernetes-dashboard", "", "examples/insecure/dashboard.yaml", 0},
		{"cluster-admin-binding", "ClusterRoleBinding", "", "kubernetes-dashboard-admin", "", "examples/insecure/dashboard.yaml", 0},
		{"argo-server-auth-disabled", "Deployment", "argo", "argo-server", "", "examples/insecure/argo-server.yaml", 0},
		{"anonymous-access-binding", "ClusterRoleBinding", "", "anonymous-view", "", "examples/insecure/rbac.yaml", 0},
		{"rbac-wildcard", "ClusterRole", "", "ci-deployer", "", "examples/insecure/rbac.yaml", 0},
		{"apiserver-anonymous-auth", "Pod", "kube-system", "kube-apiserver", "", "examples/insecure/control-plane/kube-apiserver.yaml", 0},
		{"kubelet-read-only-port", "KubeletConfiguration", "", "", "", "examples/insecure/control-plane/kubelet-config.yaml", 0},
		{"mtls-permissive", "PeerAuthentication", "payments", "default", "", "examples/insecure/network.yaml", 0},
		{"network-policy-allow-all", "NetworkPolicy", "payments", "allow-everything", "", "examples/insecure/network.yaml", 0},
	}
	for _, w := range wants {
		t.Run(w.control, func(t *testing.T) {
			for _, f := range r.Findings {
				if f.Control != w.control || f.Object.Kind != w.kind || f.Object.Namespace != w.namespace || f.Object.Name != w.name {
					continue
				}
				if w.container != "" && f.Container != w.container {
					continue
				}
				if f.Status != "fail" {
					t.Errorf("status %q, want fail", f.Status)
				}
				if f.Source.File != w.file {
					t.Errorf("file %q, want %q", f.Source.File, w.file)
				}
				if w.line != 0 && f.Source.Line != w.line {
					t.Errorf("line %d, want %d", f.Source.Line, w.line)
				}
				if f.Source.Line == 0 || f.Remediation == "" || f.Message == "" {
					t.Errorf("incomplete finding: %+v", f)
				}
				return
			}
			t.Errorf("no %s finding on %s %s/%s", w.control, w.kind, w.namespace, w.name)
		})
	}
	for _, fw := range []string{"nsa", "cis", "pss-baseline", "pss-restricted", "mitre"} {
		found := false
		for _, s := range r.Frameworks {
			if s.ID == fw {
				found = true
				if s.Score < 0 || s.Score >= 100 {
					t.Errorf("framework %s score %.1f, want below 100 on the insecure examples", fw, s.Score)
				}
			}
		}
		if !found {
			t.Errorf("framework %s not scored", fw)
		}
	}
}

func TestScanHardenedIsClean(t *testing.T) {
	r, code, _ := scanJSON(t, "examples/hardened")
	for _, f := range r.Findings {
		if f.Status != "excepted" {
			t.Errorf("hardened example has finding %s on %s at %s:%d: %s", f.Control, f.Object, f.Source.File, f.Source.Line, f.Message)
		} else if f.Exception == nil || f.Exception.Reason == "" {
			t.Errorf("excepted finding without a reason: %+v", f)
		}
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stderr   string
	}{
		{name: "usage: no path", args: []string{"scan"}, wantCode: 2, stderr: "needs at least one PATH"},
		{name: "usage: bad format", args: []string{"scan", "-o", "xml", "examples/"}, wantCode: 2, stderr: "unknown --format"},
		{name: "usage: unknown control", args: []string{"scan", "--controls", "nope", "examples/"}, wantCode: 2, stderr: "unknown control"},
		{name: "usage: unknown framework", args: []string{"scan", "--framework", "pci", "examples/"}, wantCode: 2, stderr: "unknown framework"},
		{name: "missing path", args: []string{"scan", "does-not-exist.yaml"}, wantCode: 2, stderr: "does-not-exist.yaml"},
		{name: "fail-on critical still fails on examples", args: []string{"scan", "--fail-on", "critical", "examples/insecure"}, wantCode: 1},
		{name: "hardened only", args: []string{"scan", "examples/hardened"}, wantCode: 0},
		{name: "explain", args: []string{"explain", "privileged-container"}, wantCode: 0},
		{name: "explain unknown", args: []string{"explain", "nope"}, wantCode: 2, stderr: "unknown control"},
		{name: "controls", args: []string{"controls"}, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %s)", code, tt.wantCode, stderr)
			}
			if tt.stderr != "" && !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.stderr)
			}
		})
	}
}

func TestMalformedFileDoesNotStopScan(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("../../examples/insecure/payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.yaml"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	r, code, _ := scanJSON(t, dir)
	if code != 2 {
		t.Errorf("exit code %d, want 2 for unreadable input", code)
	}
	if len(r.Errors) != 1 || r.Errors[0].Line != 5 || !strings.HasSuffix(r.Errors[0].File, "broken.yaml") {
		t.Errorf("errors = %+v, want one error at broken.yaml:5", r.Errors)
	}
	if len(r.Findings) == 0 {
		t.Error("the valid file was not scanned")
	}
}

func TestStdin(t *testing.T) {
	data, err := os.ReadFile("../../examples/insecure/node-escape.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "scan", "-o", "json", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, _ := cmd.Output()
	var r report.Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) == 0 || r.Findings[0].Source.File != "-" {
		t.Errorf("stdin findings = %+v", r.Findings)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rampart.yaml")
	config := `failOn: critical
excludeControls: [missing-probes]
settings:
  allowedRegistries: [ghcr.io/acme]
exceptions:
  - controls: ["privileged-container"]
    kinds: [Deployment]
    namespaces: ["pay*"]
    names: ["billing-*"]
    reason: "setup container needs sysctls; tracked in SEC-42"
    expires: "2999-01-01"
  - controls: ["host-pid"]
    names: ["debug-tools"]
    reason: "expired exception"
    expires: "2000-01-01"
`
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	r, code, _ := scanJSON(t, "--config", cfg, "examples/insecure")
	if code != 1 {
		t.Errorf("exit code %d, want 1 (critical findings remain)", code)
	}
	var sawExcepted, sawExpired, sawRegistry bool
	for _, f := range r.Findings {
		switch {
		case f.Control == "missing-probes":
			t.Errorf("excluded control reported: %+v", f)
		case f.Control == "privileged-container" && f.Object.Name == "billing-api":
			sawExcepted = f.Status == "excepted" && f.Exception != nil && f.Exception.Source == "config" && f.Exception.Reason != ""
		case f.Control == "host-pid" && f.Object.Name == "debug-tools":
			sawExpired = f.Status == "fail" && f.Exception != nil && f.Exception.Expired
		case f.Control == "untrusted-registry":
			sawRegistry = true
		}
	}
	if !sawExcepted || !sawExpired || !sawRegistry {
		t.Errorf("excepted %v, expired exception reported again %v, untrusted-registry enabled by settings %v", sawExcepted, sawExpired, sawRegistry)
	}
	// The config's failOn applies: the hardened example has nothing critical.
	if _, _, code := run(t, "scan", "--config", cfg, "examples/hardened"); code != 0 {
		t.Errorf("hardened with config: exit %d, want 0", code)
	}
	if _, stderr, code := run(t, "scan", "--config", filepath.Join(dir, "missing.yaml"), "examples/hardened"); code != 2 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing config: exit %d, stderr %q", code, stderr)
	}
}

func TestOutputFormatsFromCLI(t *testing.T) {
	for _, format := range []string{"table", "json", "sarif", "junit", "html"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report."+format)
			_, stderr, code := run(t, "scan", "-o", format, "--output", out, "examples/insecure")
			if code != 1 {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil || len(data) == 0 {
				t.Fatalf("report not written: %v", err)
			}
			if strings.Contains(string(data), "Xk9#mP2$vL7qR4@wZ8nT") {
				t.Errorf("%s report leaks the hard-coded password", format)
			}
		})
	}
}
