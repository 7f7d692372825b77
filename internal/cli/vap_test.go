package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs rampart with args and returns the exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

var exampleRules = filepath.Join("..", "..", "examples", "rules", "rules.yaml")

// TestVAPExportGolden pins the exported objects of one built-in control and
// the example rules; refresh with -update.
func TestVAPExportGolden(t *testing.T) {
	code, out, errOut := runCLI("vap", "export", "--controls", "privileged-container,no-latest-image-tag,require-team-label", "--rules", exampleRules)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr %q, want nothing skipped", errOut)
	}
	path := filepath.Join("testdata", "vap", "export.yaml")
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("export differs from %s (run with -update):\n%s", path, out)
	}
}

func TestVAPExport(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		// wantOut and wantErr are substrings of stdout and stderr.
		wantOut []string
		wantErr []string
		notOut  []string
	}{
		{name: "all built-ins", args: nil, wantOut: []string{"name: rampart-privileged-container", "name: rampart-run-as-root", "- kube-system", "validationActions:\n  - Deny", "failurePolicy: Ignore"},
			wantErr: []string{"skipped cluster-admin-binding: ", "skipped container-runtime-socket: needs path normalisation", "skipped missing-network-policy: reads several objects"},
			notOut:  []string{"rampart-container-runtime-socket"}},
		{name: "warn and audit, fail closed, no exclusions", args: []string{"--controls", "host-pid", "--action", "Warn,Audit", "--fail-closed", "--exclude-namespaces", ""},
			wantOut: []string{"- Warn\n  - Audit", "failurePolicy: Fail", "namespaceSelector: {}"}, notOut: []string{"kube-system"}},
		{name: "json", args: []string{"--controls", "host-ipc", "-o", "json"}, wantOut: []string{`"kind": "List"`, `"name": "rampart-host-ipc"`}},
		{name: "only custom rules", args: []string{"--rules", exampleRules, "--no-builtins"}, wantOut: []string{"rampart-ingress-requires-tls", "rampart-deployment-min-replicas"}, notOut: []string{"rampart-privileged-container"}},
		{name: "skipped only", args: []string{"--controls", "container-runtime-socket"}, wantCode: 2, wantErr: []string{"skipped container-runtime-socket", "nothing to export"}},
		{name: "unknown control", args: []string{"--controls", "nope"}, wantCode: 2, wantErr: []string{`unknown control "nope"`}},
		{name: "bad action", args: []string{"--action", "Deny,Warn"}, wantCode: 2, wantErr: []string{"--action: actions Deny and Warn exclude each other"}},
		{name: "bad format", args: []string{"-o", "xml"}, wantCode: 2, wantErr: []string{`unknown --format "xml"`}},
		{name: "bad rule file", args: []string{"--rules", filepath.Join("testdata", "vap", "bad-rules.yaml")}, wantCode: 2,
			wantErr: []string{"bad-rules.yaml:6: rule broken: expression: 1:", "bad-rules.yaml:7: rule privileged-container: id \"privileged-container\" is a built-in control"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(append([]string{"vap", "export"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q", w)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q", w)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestScanRules runs the example rules in a scan alongside the built-in
// controls.
func TestScanRules(t *testing.T) {
	code, out, errOut := runCLI("scan", "-o", "json", "--controls", "privileged-container", "--rules", exampleRules, filepath.Join("..", "celrules", "testdata", "objects.yaml"))
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Findings []struct {
			Control, Status, Severity, Message string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range res.Findings {
		if f.Status == "fail" {
			counts[f.Control]++
		}
	}
	want := map[string]int{"no-latest-image-tag": 3, "require-team-label": 1, "ingress-requires-tls": 1, "deployment-min-replicas": 1}
	for id, n := range want {
		if counts[id] != n {
			t.Errorf("%s: %d failures, want %d (all: %v)", id, counts[id], n, counts)
		}
	}
	code, _, errOut = runCLI("scan", "--rules", filepath.Join("testdata", "vap", "bad-rules.yaml"), exampleRules)
	if code != 2 || !strings.Contains(errOut, "bad-rules.yaml:6: rule broken") {
		t.Errorf("bad rules: exit %d, %s", code, errOut)
	}
}
