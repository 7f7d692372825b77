package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
)

// TestAnonymousFromAuthenticationConfig holds CIS 1.2.1 to the API
// server's rules: the anonymous section of --authentication-config wins
// when the file has one (the flag and the section exclude each other),
// and anonymous requests limited to the health endpoints pass.
func TestAnonymousFromAuthenticationConfig(t *testing.T) {
	const head = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
	tests := []struct {
		name   string
		flags  []string
		config string // written to /etc/authn.yaml when not empty
		status control.Status
		origin string
		value  string
	}{
		{"health endpoints only", []string{"--authentication-config=/etc/authn.yaml"},
			head + "anonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n  - path: /readyz\n  - path: /healthz\n",
			control.StatusPass, OriginFile, "true for /livez,/readyz,/healthz"},
		{"health sub-path", []string{"--authentication-config=/etc/authn.yaml"},
			head + "anonymous:\n  enabled: true\n  conditions:\n  - path: /readyz/ping\n",
			control.StatusPass, OriginFile, "true for /readyz/ping"},
		{"version as well", []string{"--authentication-config=/etc/authn.yaml"},
			head + "anonymous:\n  enabled: true\n  conditions:\n  - path: /healthz\n  - path: /version\n",
			control.StatusFail, OriginFile, "true for /healthz,/version"},
		{"enabled everywhere", []string{"--authentication-config=/etc/authn.yaml"},
			head + "anonymous:\n  enabled: true\n",
			control.StatusFail, OriginFile, "true"},
		{"disabled in the file", []string{"--authentication-config=/etc/authn.yaml"},
			head + "anonymous:\n  enabled: false\n",
			control.StatusPass, OriginFile, "false"},
		{"file without the section: binary default", []string{"--authentication-config=/etc/authn.yaml", "--authorization-mode=Node,RBAC"},
			head + "jwt: []\n",
			control.StatusFail, OriginDefault, "true"},
		{"file without the section: flag", []string{"--authentication-config=/etc/authn.yaml", "--anonymous-auth=false"},
			head + "jwt: []\n",
			control.StatusPass, OriginFlag, "false"},
		{"missing file", []string{"--authentication-config=/etc/missing.yaml"}, "",
			control.StatusWarn, OriginAbsent, ""},
		{"wrong kind", []string{"--authentication-config=/etc/authn.yaml"},
			"apiVersion: v1\nkind: ConfigMap\n",
			control.StatusWarn, OriginAbsent, ""},
		{"no file, no flag, RBAC", []string{"--authorization-mode=Node,RBAC"}, "", control.StatusFail, OriginDefault, "true"},
		{"flag true, RBAC", []string{"--anonymous-auth=true", "--authorization-mode=RBAC"}, "", control.StatusFail, OriginFlag, "true"},
		// kube-apiserver: "AnonymousAuth is not allowed with the AlwaysAllow
		// authorizer. Resetting AnonymousAuth to false".
		{"flag true, AlwaysAllow: reset", []string{"--anonymous-auth=true", "--authorization-mode=AlwaysAllow"}, "",
			control.StatusPass, OriginFlag, "false (--anonymous-auth=true reset by kube-apiserver: --authorization-mode=AlwaysAllow)"},
		{"no flags: default AlwaysAllow resets the default", nil, "",
			control.StatusPass, OriginDefault, "false (--anonymous-auth=true reset by kube-apiserver: the default --authorization-mode AlwaysAllow)"},
		{"authorization config: no reset", []string{"--anonymous-auth=true", "--authorization-config=/etc/authz.yaml"}, "",
			control.StatusFail, OriginFlag, "true"},
		{"file enables anonymous, AlwaysAllow: no reset", []string{"--authentication-config=/etc/authn.yaml", "--authorization-mode=AlwaysAllow"},
			head + "anonymous:\n  enabled: true\n",
			control.StatusFail, OriginFile, "true"},
		{"flag false", []string{"--anonymous-auth=false"}, "", control.StatusPass, OriginFlag, "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			cmdline := strings.Join(append([]string{"/usr/local/bin/kube-apiserver"}, tt.flags...), "\x00") + "\x00"
			if err := os.MkdirAll(filepath.Join(root, "proc", "7"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "proc", "7", "cmdline"), []byte(cmdline), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(root, "etc", "authn.yaml"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res := Run(DirHost{Root: root}, Filter{Checks: []string{"1.2.1"}})
			if len(res.Results) != 1 {
				t.Fatalf("%d results, want 1: %+v", len(res.Results), res.Results)
			}
			r := res.Results[0]
			if r.Status != tt.status || r.Evidence == nil || r.Evidence.Origin != tt.origin || r.Evidence.Value != tt.value {
				t.Fatalf("got %s (%s) %+v, want %s from %s with value %q", r.Status, r.Message, r.Evidence, tt.status, tt.origin, tt.value)
			}
		})
	}
}

func FuzzParseAnonymous(f *testing.F) {
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n"))
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\nanonymous: {enabled: false}\n"))
	f.Add([]byte("kind: AuthenticationConfiguration\napiVersion: apiserver.config.k8s.io/v1\nanonymous: [1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		enabled, paths, present, err := ParseAnonymous(data)
		if err != nil && (enabled || present || len(paths) > 0) {
			t.Fatalf("error %v with a result", err)
		}
		if !present && (enabled || len(paths) > 0) {
			t.Fatalf("no section but enabled=%v paths=%q", enabled, paths)
		}
	})
}
