package library_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/report"
)

// TestMetadataComplete fails when any control lacks metadata or a framework mapping.
func TestMetadataComplete(t *testing.T) {
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	fws := framework.MustLoad()
	for _, c := range reg.All() {
		t.Run(c.ID, func(t *testing.T) {
			switch {
			case c.Title == "":
				t.Error("no title")
			case strings.TrimSpace(c.Description) == "":
				t.Error("no description")
			case !strings.Contains(c.Remediation, "```yaml") && !strings.Contains(c.Remediation, "```"):
				t.Errorf("remediation shows no exact fix in a code block: %q", c.Remediation)
			case len(c.References) == 0:
				t.Error("no references")
			case c.Category == "":
				t.Error("no category")
			case len(fws.MappingsOf(c.ID)) == 0:
				t.Error("not mapped to any framework")
			}
			for _, r := range c.References {
				if !strings.HasPrefix(r, "https://") {
					t.Errorf("reference %q is not an https URL", r)
				}
			}
		})
	}
	for _, f := range fws.All() {
		for _, id := range f.ControlIDs() {
			if _, ok := reg.Get(id); !ok {
				t.Errorf("framework %s maps unknown control %s", f.ID, id)
			}
		}
	}
}

// TestFixtures runs every control on its fixtures: each control needs at
// least one failing fixture (fail-*.yaml, which must fail) and one passing
// fixture (pass-*.yaml, which must not fail), under testdata/fixtures/<id>/.
func TestFixtures(t *testing.T) {
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range reg.All() {
		if c.External != "" {
			continue // tested by the audit command's own package
		}
		t.Run(c.ID, func(t *testing.T) {
			dir := filepath.Join("testdata", "fixtures", c.ID)
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			var fails, passes int
			for _, f := range files {
				base := filepath.Base(f)
				want := strings.HasPrefix(base, "fail")
				if !want && !strings.HasPrefix(base, "pass") {
					continue
				}
				if want {
					fails++
				} else {
					passes++
				}
				t.Run(base, func(t *testing.T) {
					res := runOne(t, c, f)
					if len(res.Errors) > 0 {
						t.Fatalf("fixture has input errors: %+v", res.Errors)
					}
					got := 0
					for _, fd := range res.Findings {
						if fd.Control == c.ID && fd.Status == string(control.StatusFail) {
							got++
							if fd.Source.Line == 0 {
								t.Errorf("finding without a line: %+v", fd)
							}
						}
						if fd.Status == string(control.StatusError) {
							t.Errorf("evaluation error: %s", fd.Message)
						}
					}
					if want && got == 0 {
						t.Errorf("%s: want a failing finding, got none", f)
					}
					if !want && got > 0 {
						t.Errorf("%s: want no failing finding, got %d: %+v", f, got, res.Findings)
					}
					evaluated := res.Controls[0].Evaluated
					if evaluated == 0 {
						t.Errorf("%s: control did not apply to any object", f)
					}
				})
			}
			if fails == 0 || passes == 0 {
				t.Errorf("control needs at least one fail-*.yaml and one pass-*.yaml fixture in %s (have %d fail, %d pass)", dir, fails, passes)
			}
		})
	}
}

func runOne(t *testing.T, c *control.Control, file string) *report.Result {
	t.Helper()
	settingsFile := strings.TrimSuffix(file, ".yaml") + ".settings"
	s := &control.Settings{}
	if data, err := os.ReadFile(settingsFile); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if v, ok := strings.CutPrefix(line, "allowedRegistries="); ok {
				s.AllowedRegistries = strings.Split(v, ",")
			}
		}
	}
	eng := engine.New([]*control.Control{c}, engine.WithSettings(s))
	return eng.Scan(context.Background(), []string{file}, load.Options{Limits: load.DefaultLimits})
}
