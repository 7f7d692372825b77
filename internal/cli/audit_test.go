package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/detect"
)

var capturedAudit = filepath.Join("..", "auditlog", "testdata", "captured.jsonl")

func TestAuditRules(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`- id: audit-pod-exec
  enabled: false
- id: my-configmap-delete
  title: ConfigMap deleted
  severity: low
  mitre: [T1485]
  source: audit
  match: {verbs: [delete], resources: [configmaps]}
  condition: code < 400
  output: ${user.username} deleted configmap ${objectRef.name}
`), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- id: x\n  title: X\n  severity: low\n  mitre: [T1485]\n  source: audit\n  condition: verb ==\n  output: x\n"), 0o600)
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("- id: x\n  titel: X\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
		absent   []string
	}{
		{"defaults", []string{"audit", "rules"}, 0, []string{"audit-pod-exec", "audit-secret-read-unusual", "T1552.007"}, nil},
		{"user rules added and a default disabled", []string{"audit", "rules", "--rules", good}, 0, []string{"my-configmap-delete", good + ":3"}, []string{"audit-pod-exec "}},
		{"bad CEL names file, line and rule", []string{"audit", "rules", "--rules", bad}, 2, []string{bad + ":1: rule x: condition:"}, nil},
		{"unknown field names file and line", []string{"audit", "rules", "--rules", unknown}, 2, []string{unknown + ":2: unknown field \"titel\""}, nil},
		{"missing rules file", []string{"audit", "rules", "--rules", filepath.Join(dir, "nope.yaml")}, 2, []string{"nope.yaml"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut)
			}
			all := out + errOut
			for _, s := range tt.contains {
				if !strings.Contains(all, s) {
					t.Errorf("output lacks %q:\n%s", s, all)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(all, s) {
					t.Errorf("output has %q:\n%s", s, all)
				}
			}
			if tt.code == 2 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error spans lines: %q", errOut)
			}
		})
	}
	code, out, _ := runCLI("audit", "rules", "-o", "json")
	var rules []detect.Rule
	if code != 0 || json.Unmarshal([]byte(out), &rules) != nil || len(rules) < 12 {
		t.Fatalf("rules -o json: exit %d, %d rules", code, len(rules))
	}
}

func TestAuditReplay(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "alerts.jsonl")
	code, out, errOut := runCLI("audit", "file", capturedAudit, "--replay", "--no-cluster", "-o", "json", "--sink", "file:"+sink)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d (alerts at or above low); stderr %s", code, ExitFindings, errOut)
	}
	var res struct {
		Findings []struct {
			Control, Severity, Status, Message string
			Source                             struct {
				File string
				Line int
			}
		}
		Frameworks []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	byRule := map[string]int{}
	for _, f := range res.Findings {
		byRule[f.Control]++
		if f.Status != "fail" || f.Source.File != capturedAudit || f.Source.Line == 0 {
			t.Errorf("finding %+v: want fail with the log file and line", f)
		}
	}
	for _, r := range []string{"audit-pod-exec", "audit-pod-privileged", "audit-cluster-admin-binding", "audit-secret-read-unusual", "audit-anonymous-allowed", "audit-networkpolicy-deleted"} {
		if byRule[r] == 0 {
			t.Errorf("no finding of %s; findings by rule %v", r, byRule)
		}
	}
	if len(res.Frameworks) != 1 || res.Frameworks[0].ID != "mitre-attack" {
		t.Errorf("frameworks %+v", res.Frameworks)
	}
	data, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != len(res.Findings) {
		t.Errorf("file sink has %d alerts, report %d findings", n, len(res.Findings))
	}
	for _, secret := range []string{"hunter2", "s3cr3t", "sk_live"} {
		if strings.Contains(out, secret) || strings.Contains(string(data), secret) {
			t.Errorf("a secret value reached the output")
		}
	}

	// SARIF and the other formats render; a bad line is a one-line exit-2
	// error naming file:line, the rest is still reported.
	broken := filepath.Join(dir, "broken.log")
	lines, _ := os.ReadFile(capturedAudit)
	os.WriteFile(broken, append([]byte("not an event\n"), lines...), 0o600)
	code, out, errOut = runCLI("audit", "file", broken, "--replay", "--no-cluster", "-o", "sarif")
	if code != ExitUsage || !strings.Contains(errOut, broken+":1:") || !strings.Contains(out, "audit-pod-privileged") {
		t.Fatalf("broken log: exit %d, stderr %q", code, errOut)
	}
}

func TestAuditUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"serve without TLS", []string{"audit", "serve", "--no-cluster"}, "TLS only"},
		{"bad sink", []string{"audit", "file", capturedAudit, "--replay", "--no-cluster", "--sink", "kafka:x"}, "want stdout, file:PATH, webhook:URL or slack:URL"},
		{"http webhook sink", []string{"audit", "file", capturedAudit, "--replay", "--no-cluster", "--sink", "webhook:http://example.com/hook"}, "must be https"},
		{"missing file", []string{"audit", "file", "/nonexistent/audit.log", "--replay", "--no-cluster"}, "/nonexistent/audit.log"},
		{"follow stdin", []string{"audit", "file", "-", "--no-cluster"}, "--replay"},
		{"bad format", []string{"audit", "file", capturedAudit, "--replay", "--no-cluster", "-o", "xml"}, "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(tt.args...)
			if code != ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, errOut, tt.want)
			}
		})
	}
}

func TestAuditReplayVulns(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "vulns.json")
	os.WriteFile(rep, []byte(`{"schemaVersion":"1","findings":[{"control":"image-critical-vulnerabilities","severity":"critical","status":"fail","object":{"kind":"Image","name":"docker.io/library/busybox:1.36"}}]}`), 0o600)
	sink := filepath.Join(dir, "alerts.jsonl")
	code, _, errOut := runCLI("audit", "file", capturedAudit, "--replay", "--no-cluster", "-o", "json", "--output", filepath.Join(dir, "r.json"), "--sink", "file:"+sink, "--vulns", rep)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, _ := os.ReadFile(sink)
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var a detect.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		if a.Rule == "audit-pod-privileged" {
			found = true
			if a.Context.Vulnerabilities["critical"] != 1 || a.Context.Image != "docker.io/library/busybox:1.36" {
				t.Errorf("privileged pod alert context %+v: want 1 critical vulnerability of busybox", a.Context)
			}
		}
	}
	if !found {
		t.Fatal("no privileged pod alert")
	}
}
