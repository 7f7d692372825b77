package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{name: "full", data: "severity: low\nfailOn: high\nframeworks: [nsa]\nexcludeControls: [missing-probes]\nsettings:\n  allowedRegistries: [ghcr.io/acme]\nexceptions:\n  - controls: [run-as-root]\n    namespaces: [kube-*]\n    reason: system\n    expires: \"2027-01-31\"\n"},
		{name: "empty file", data: ""},
		{name: "unknown field", data: "severty: low\n", wantErr: "field severty not found"},
		{name: "bad severity", data: "failOn: extreme\n", wantErr: "unknown severity"},
		{name: "exception without reason", data: "exceptions:\n  - controls: [x]\n", wantErr: "has no reason"},
		{name: "bad expiry", data: "exceptions:\n  - reason: r\n    expires: 31/01/2027\n", wantErr: "not a YYYY-MM-DD date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("rampart.yaml", []byte(tt.data))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.name == "full" && (c.FailOn != "high" || len(c.Exceptions) != 1 || c.Settings.AllowedRegistries[0] != "ghcr.io/acme") {
					t.Errorf("parsed %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "rampart.yaml") {
				t.Errorf("err = %v, want mention of rampart.yaml and %q", err, tt.wantErr)
			}
		})
	}
}
