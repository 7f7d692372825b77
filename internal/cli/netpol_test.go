package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetpolGolden runs the netpol commands on testdata/netpol and compares
// their output with golden files (refresh with -update).
func TestNetpolGolden(t *testing.T) {
	const in = "testdata/netpol/shop.yaml"
	tests := []struct {
		name   string
		args   []string
		golden string
		code   int
	}{
		{name: "coverage table", args: []string{"netpol", "coverage", in}, golden: "coverage.txt"},
		{name: "coverage json one namespace", args: []string{"netpol", "coverage", "-n", "shop", "-o", "json", in}, golden: "coverage-shop.json"},
		{name: "reach allowed by named port", args: []string{"netpol", "reach", "shop/Deployment/web", "shop/StatefulSet/db", "--port", "5432", in}, golden: "reach-web-db.txt"},
		{name: "reach denied by egress", args: []string{"netpol", "reach", "shop/Deployment/web", "monitoring/Deployment/prometheus", "--port", "9090", in}, golden: "reach-web-prometheus.txt"},
		{name: "reach namespace to workload, any port", args: []string{"netpol", "reach", "monitoring", "shop/StatefulSet/db", in}, golden: "reach-monitoring-db.txt"},
		{name: "reach to a CIDR straddling an except", args: []string{"netpol", "reach", "shop/Deployment/web", "0.0.0.0/0", "--port", "443", "-o", "json", in}, golden: "reach-web-internet.json"},
		{name: "suggest yaml", args: []string{"netpol", "suggest", "shop", in}, golden: "suggest-shop.yaml"},
		{name: "unknown workload", args: []string{"netpol", "reach", "shop/Deployment/nope", "shop", in}, golden: "reach-unknown.txt", code: ExitUsage},
		{name: "bad port", args: []string{"netpol", "reach", "shop", "shop", "--port", "80/ICMP", in}, golden: "reach-bad-port.txt", code: ExitUsage},
		{name: "no input", args: []string{"netpol", "coverage"}, golden: "coverage-no-input.txt", code: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			got := out.String()
			if errb.Len() > 0 {
				got += "--- stderr\n" + errb.String()
			}
			path := filepath.Join("testdata", "netpol", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", path, got)
			}
		})
	}
}
