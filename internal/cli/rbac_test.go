package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRBACGolden runs rampart rbac on the RBAC oracle fixture and compares
// the table and JSON outputs with golden files (refresh with -update).
func TestRBACGolden(t *testing.T) {
	fixture := filepath.Join("..", "rbac", "testdata", "oracle.yaml")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"who-can-secrets-ns-a", []string{"rbac", "who-can", "get", "secrets", "-n", "ns-a", fixture}, ExitOK},
		{"who-can-named-secret", []string{"rbac", "who-can", "get", "secrets", "--name", "db", fixture}, ExitOK},
		{"who-can-exec-all-json", []string{"rbac", "who-can", "create", "pods/exec", "-A", fixture, "-o", "json"}, ExitOK},
		{"who-can-scale", []string{"rbac", "who-can", "update", "deployments.apps/scale", "-n", "ns-b", fixture}, ExitOK},
		{"who-can-nonresource", []string{"rbac", "who-can", "get", "/logs/kube", fixture}, ExitOK},
		{"can-sa", []string{"rbac", "can", "sa:ns-a:robot", fixture}, ExitOK},
		{"can-group-json", []string{"rbac", "can", "group:devs", fixture, "-o", "json"}, ExitOK},
		{"risks", []string{"rbac", "risks", fixture}, ExitOK},
		{"risks-json", []string{"rbac", "risks", fixture, "-o", "json"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			ext := ".txt"
			if strings.Contains(tt.name, "json") {
				ext = ".json"
			}
			path := filepath.Join("testdata", "rbac", tt.name+ext)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s:\n%s", path, out.String())
			}
		})
	}
}

func TestRBACUsage(t *testing.T) {
	fixture := filepath.Join("..", "rbac", "testdata", "oracle.yaml")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no input", []string{"rbac", "risks"}, "give PATH"},
		{"bad subject", []string{"rbac", "can", "robot:x", fixture}, "unknown kind"},
		{"missing resource", []string{"rbac", "who-can", "get"}, "needs VERB and RESOURCE"},
		{"bad format", []string{"rbac", "risks", "-o", "xml", fixture}, "unknown --format"},
		{"namespace on path", []string{"rbac", "who-can", "get", "/healthz", "-n", "x", fixture}, "non-resource"},
		{"cluster and paths", []string{"rbac", "risks", "--cluster", fixture}, "give no PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitUsage || !strings.Contains(errb.String(), tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), ExitUsage, tt.msg)
			}
		})
	}
}
