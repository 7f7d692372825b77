package supplychain_test

import (
	"testing"

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
