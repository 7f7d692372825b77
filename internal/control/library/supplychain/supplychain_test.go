package supplychain_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/load"

	"github.com/rampart-dev/rampart/internal/control/library/supplychain"
	"github.com/rampart-dev/rampart/internal/vuln"
)

// TestControlsMatchVulnChecks keeps the catalogue entries and the checks
// that internal/vuln reports under them in step: same IDs, same order,
// same severity, evaluated externally by `rampart image`.
func TestControlsMatchVulnChecks(t *testing.T) {
	cs, err := supplychain.Controls()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(vuln.Checks) {
		t.Fatalf("%d controls, %d vuln checks", len(cs), len(vuln.Checks))
	}
	for i, c := range cs {
		chk := vuln.Checks[i]
		if c.ID != chk.ID {
			t.Errorf("control %d: id %s, vuln check %s", i, c.ID, chk.ID)
		}
		if c.Severity != chk.Severity {
			t.Errorf("%s: catalogue severity %s, vuln check %s", c.ID, c.Severity, chk.Severity)
		}
		if c.Title != chk.Title {
			t.Errorf("%s: catalogue title %q, vuln check %q", c.ID, c.Title, chk.Title)
		}
		if c.External != "image" || c.Check != nil || c.Cross != nil {
			t.Errorf("%s: want External \"image\" only, got External %q", c.ID, c.External)
		}
	}
	if vuln.ControlCritical != supplychain.ImageCriticalVulnerabilities || vuln.ControlHigh != supplychain.ImageHighVulnerabilities {
		t.Errorf("ids differ: vuln %s/%s, catalogue %s/%s", vuln.ControlCritical, vuln.ControlHigh,
			supplychain.ImageCriticalVulnerabilities, supplychain.ImageHighVulnerabilities)
	}
}

// images is an index of analysed images by name.
type images map[string]*control.ImageVulns

func (x images) Image(_, img string) *control.ImageVulns { return x[img] }

// TestClusterControls runs the cluster forms of the controls over
// workloads whose images were analysed (or not): one finding per
// vulnerable container, on its image field; workloads with no analysed
// image are not evaluated.
func TestClusterControls(t *testing.T) {
	const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers:
        - {name: init, image: "reg.example/init:1"}
      containers:
        - {name: app, image: "reg.example/app:1"}
        - {name: proxy, image: "reg.example/proxy:2"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: shop}
spec:
  template:
    spec:
      containers:
        - {name: job, image: "reg.example/unread:1"}
`
	idx := images{
		"reg.example/init:1":  {Digests: []string{"sha256:aa"}},
		"reg.example/app:1":   {Digests: []string{"sha256:bb"}, Critical: control.VulnCount{N: 1, Worst: []string{"GHSA-x (CVE-2) in underscore 1.12.0, fixed in 1.12.1"}}, High: control.VulnCount{N: 2}},
		"reg.example/proxy:2": {Digests: []string{"sha256:cc", "sha256:dd"}, High: control.VulnCount{N: 1}},
	}
	cs, err := supplychain.ClusterControls()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Cross == nil || c.External != "" {
			t.Fatalf("%s: want a cross-object control", c.ID)
		}
	}
	tests := []struct {
		name  string
		index control.ImageIndex
		want  []string // control|object|path|message part
		eval  int      // workloads evaluated per control
	}{
		{name: "not analysed", index: nil, eval: 0},
		{name: "analysed", index: idx, eval: 1, want: []string{
			"image-critical-vulnerabilities|web|spec.template.spec.containers[0].image|Image reg.example/app:1 (running as sha256:bb) has 1 critical vulnerability, among them GHSA-x (CVE-2) in underscore 1.12.0, fixed in 1.12.1",
			"image-high-vulnerabilities|web|spec.template.spec.containers[0].image|Image reg.example/app:1 (running as sha256:bb) has 2 high vulnerabilities",
			"image-high-vulnerabilities|web|spec.template.spec.containers[1].image|Image reg.example/proxy:2 (running as sha256:cc, sha256:dd) has 1 high vulnerability",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "w.yaml")
			if err := os.WriteFile(p, []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			r := engine.New(cs, engine.WithImages(tt.index)).Scan(context.Background(), []string{p}, load.Options{Limits: load.DefaultLimits})
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Control+"|"+f.Object.Name+"|"+f.Path+"|"+f.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, c := range r.Controls {
				if c.Evaluated != tt.eval {
					t.Errorf("%s evaluated %d workloads, want %d", c.ID, c.Evaluated, tt.eval)
				}
			}
		})
	}
}
