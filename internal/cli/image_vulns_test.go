package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/report"
)

// TestImageVulns runs `rampart image --vulns` on an image whose npm lock
// pins lodash 4.17.20 and whose dpkg status is a real Debian 12 one,
// against a database imported from the real OSV records in testdata/osv.
func TestImageVulns(t *testing.T) {
	lock := `{"name":"app","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0"},"node_modules/lodash":{"version":"4.17.20"}}}`
	img := imagetest.Image(t, v1.Platform{OS: "linux", Architecture: "amd64"},
		imagetest.Layer(t,
			imagetest.File{Name: "usr/lib/os-release", Body: detectTestdata(t, "osrelease/debian-12")},
			imagetest.File{Name: "var/lib/dpkg/status", Body: detectTestdata(t, "dpkg/status")},
		),
		imagetest.Layer(t, imagetest.File{Name: "srv/app/package-lock.json", Body: []byte(lock)}),
	)
	tarPath := imagetest.SaveTarball(t, img)
	db := filepath.Join(t.TempDir(), "vuln.db")
	if code, _, errOut := runCLI("db", "--db", db, "import", filepath.Join("..", "..", "testdata", "osv")); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}

	code, out, errOut := runCLI("image", "--vulns", "--db", db, "-o", "json", tarPath)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a high vulnerability): %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Control, Status, Severity, Message string
			Evidence                           struct{ Value, Location string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Status == "fail" && strings.HasPrefix(f.Evidence.Value, "lodash@4.17.20") && strings.Contains(f.Evidence.Value, "4.17.21") {
			found = true
			if !strings.Contains(f.Evidence.Location, "package-lock.json") {
				t.Errorf("evidence location %q lacks the lock file", f.Evidence.Location)
			}
		}
	}
	if !found {
		t.Fatalf("no failing lodash@4.17.20 finding fixed in 4.17.21 among %d findings", len(rep.Findings))
	}

	for _, tt := range []struct {
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{args: []string{"image", "--vulns", "--db", db, "--severity", "critical", "--fail-on", "critical", tarPath}, code: 0},
		{args: []string{"image", "--vulns", "--db", db, "-o", "sarif", tarPath}, code: 1, wantOut: `"version": "2.1.0"`},
		{args: []string{"image", "--vulns", "--db", db, "-o", "cyclonedx", tarPath}, code: 2, wantErr: "--format"},
		{args: []string{"image", "--vulns", "--db", filepath.Join(t.TempDir(), "none.db"), tarPath}, code: 2, wantErr: "rampart db import"},
		{args: []string{"image", "--vulns", "--db", db, "--max-age", "1ns", tarPath}, code: 1, wantErr: "is stale"},
	} {
		t.Run(strings.Join(tt.args[2:], " "), func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout %.300q (want %q)\nstderr %q (want %q)", code, tt.code, out, tt.wantOut, errOut, tt.wantErr)
			}
		})
	}
}

// TestMergeFrameworks: an item fails when it fails in either report,
// passes when it passes in either, and scores are recounted.
func TestMergeFrameworks(t *testing.T) {
	fw := func(items ...report.FrameworkItem) []report.FrameworkScore {
		return []report.FrameworkScore{{ID: "nsa", Items: items}}
	}
	it := func(id, status string, failed int) report.FrameworkItem {
		return report.FrameworkItem{ID: id, Status: status, Failed: failed}
	}
	tests := []struct {
		name       string
		a, b       []report.FrameworkScore
		want       string
		score      float64
		ctl, fails int
	}{
		{"pass then fail", fw(it("1", "pass", 0), it("2", "pass", 0)), fw(it("1", "fail", 2), it("2", "pass", 0)), "1:fail:2 2:pass:0", 50, 2, 1},
		{"skip then pass", fw(it("1", "skip", 0)), fw(it("1", "pass", 0)), "1:pass:0", 100, 1, 0},
		{"new item", fw(it("1", "pass", 0)), fw(it("2", "fail", 1)), "1:pass:0 2:fail:1", 50, 2, 1},
		{"all skipped", fw(it("1", "skip", 0)), fw(it("1", "skip", 0)), "1:skip:0", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFrameworks(tt.a, tt.b)
			if len(got) != 1 {
				t.Fatalf("%d frameworks", len(got))
			}
			var s []string
			for _, i := range got[0].Items {
				s = append(s, fmt.Sprintf("%s:%s:%d", i.ID, i.Status, i.Failed))
			}
			if strings.Join(s, " ") != tt.want || got[0].Score != tt.score || got[0].Controls != tt.ctl || got[0].Failed != tt.fails {
				t.Errorf("got %v score %v controls %d failed %d; want %s score %v controls %d failed %d",
					s, got[0].Score, got[0].Controls, got[0].Failed, tt.want, tt.score, tt.ctl, tt.fails)
			}
		})
	}
}
