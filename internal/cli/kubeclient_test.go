package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKubeconfig = `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster:
    server: https://one.example:6443
- name: c2
  cluster:
    server: https://two.example:6443
users:
- name: u
  user:
    token: not-a-real-token
contexts:
- name: one
  context: {cluster: c1, user: u}
- name: two
  context: {cluster: c2, user: u}
`

func TestRESTConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		kubeconfig string
		context    string
		wantCtx    string
		wantHost   string
		wantErr    string
	}{
		{name: "current context", kubeconfig: path, wantCtx: "one", wantHost: "https://one.example:6443"},
		{name: "explicit context", kubeconfig: path, context: "two", wantCtx: "two", wantHost: "https://two.example:6443"},
		{name: "unknown context", kubeconfig: path, context: "three", wantErr: `no context "three"`},
		{name: "missing file", kubeconfig: filepath.Join(t.TempDir(), "nope"), wantErr: "--kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ctx, err := RESTConfig(tt.kubeconfig, tt.context)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ctx != tt.wantCtx || cfg.Host != tt.wantHost {
				t.Fatalf("got context %q host %q, want %q %q", ctx, cfg.Host, tt.wantCtx, tt.wantHost)
			}
			if cfg.Timeout != RequestTimeout || !strings.HasPrefix(cfg.UserAgent, "rampart/") {
				t.Fatalf("timeout %v user agent %q", cfg.Timeout, cfg.UserAgent)
			}
		})
	}
}
