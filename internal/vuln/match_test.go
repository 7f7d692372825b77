package vuln

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

var testDB *vulndb.DB

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vulntest")
	if err != nil {
		panic(err)
	}
	testDB, err = vulndb.Open(filepath.Join(dir, "vuln.db"), true)
	if err != nil {
		panic(err)
	}
	if _, err := testDB.Import(context.Background(), "../../testdata/osv"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = testDB.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func TestMatch(t *testing.T) {
	debian := func(v string) *sbom.Distro { return &sbom.Distro{ID: "debian", VersionID: v} }
	tests := []struct {
		name    string
		distro  *sbom.Distro
		pkg     sbom.Package
		want    map[string]string // id → fixed version
		absent  []string
		opts    Options
		wantSev map[string]control.Severity
	}{
		{"debian source package vulnerable", debian("9"),
			sbom.Package{Name: "libssl1.1", Version: "1.1.0l-1~deb9u5", Ecosystem: sbom.Debian, SourceName: "openssl"},
			map[string]string{"DLA-3008-1": "1.1.0l-1~deb9u6"}, nil, Options{}, nil},
		{"debian source package fixed", debian("9"),
			sbom.Package{Name: "libssl1.1", Version: "1.1.0l-1~deb9u6", Ecosystem: sbom.Debian, SourceName: "openssl"},
			nil, []string{"DLA-3008-1"}, Options{}, nil},
		{"debian other release", debian("12"),
			sbom.Package{Name: "libssl1.1", Version: "1.1.0l-1~deb9u5", Ecosystem: sbom.Debian, SourceName: "openssl"},
			nil, []string{"DLA-3008-1"}, Options{}, nil},
		{"debian binary name is not the advisory's", debian("9"),
			sbom.Package{Name: "libssl1.1", Version: "1.1.0l-1~deb9u5", Ecosystem: sbom.Debian},
			nil, []string{"DLA-3008-1"}, Options{}, nil},
		{"debian unfixed, binNMU version, source version compared", debian("12.5"),
			sbom.Package{Name: "wget", Version: "1.21.3-1+b2", SourceVersion: "1.21.3-1", Ecosystem: sbom.Debian},
			map[string]string{"CVE-2024-10524": ""}, nil, Options{}, nil},
		{"debian unfixed ignored with --ignore-unfixed", debian("12"),
			sbom.Package{Name: "wget", Version: "1.21.3-1+b2", SourceVersion: "1.21.3-1", Ecosystem: sbom.Debian},
			nil, []string{"CVE-2024-10524"}, Options{IgnoreUnfixed: true}, nil},
		{"debian 13 fixed", debian("13"),
			sbom.Package{Name: "wget", Version: "1.25.0-1", Ecosystem: sbom.Debian},
			nil, []string{"CVE-2024-10524"}, Options{}, nil},
		{"alpine origin vulnerable", &sbom.Distro{ID: "alpine", VersionID: "3.21.2"},
			sbom.Package{Name: "wget", Version: "1.24.5-r0", Ecosystem: sbom.Alpine},
			map[string]string{"CVE-2024-10524": "1.25.0-r0"}, nil, Options{}, nil},
		{"alpine fixed", &sbom.Distro{ID: "alpine", VersionID: "3.21.2"},
			sbom.Package{Name: "wget", Version: "1.25.0-r0", Ecosystem: sbom.Alpine},
			nil, []string{"CVE-2024-10524"}, Options{}, nil},
		{"alpine branch without the record", &sbom.Distro{ID: "alpine", VersionID: "3.20.3"},
			sbom.Package{Name: "wget", Version: "1.24.5-r0", Ecosystem: sbom.Alpine},
			nil, []string{"CVE-2024-10524"}, Options{}, nil},
		{"alpine upstream introduced with apk fixed", &sbom.Distro{ID: "alpine", VersionID: "3.19.1"},
			sbom.Package{Name: "musl-utils", Version: "1.2.4_git20230717-r4", SourceName: "musl", Ecosystem: sbom.Alpine},
			map[string]string{"ALPINE-CVE-2025-26519": "1.2.4_git20230717-r5"}, nil, Options{}, nil},
		{"go module", nil,
			sbom.Package{Name: "golang.org/x/net", Version: "v0.54.0", Ecosystem: sbom.Go},
			map[string]string{"GO-2026-5025": "0.55.0", "GO-2026-5942": "0.56.0"}, []string{"GO-2023-1571", "GO-2026-4559"}, Options{}, nil},
		{"go pseudo-version", nil,
			sbom.Package{Name: "golang.org/x/net", Version: "v0.0.0-20220906165146-f3363e06e74c", Ecosystem: sbom.Go},
			map[string]string{"GO-2023-1571": "0.7.0"}, []string{"GO-2022-0969"}, Options{}, nil},
		{"go module fixed", nil,
			sbom.Package{Name: "golang.org/x/net", Version: "v0.56.0", Ecosystem: sbom.Go},
			nil, []string{"GO-2026-5025", "GO-2026-5942"}, Options{}, nil},
		{"npm vulnerable, CVSS scored", nil,
			sbom.Package{Name: "lodash", Version: "4.17.20", Ecosystem: sbom.Npm},
			map[string]string{"GHSA-35jh-r3h4-6jhm": "4.17.21"}, nil, Options{}, map[string]control.Severity{"GHSA-35jh-r3h4-6jhm": control.SeverityHigh}},
		{"npm fixed", nil,
			sbom.Package{Name: "lodash", Version: "4.17.21", Ecosystem: sbom.Npm},
			nil, []string{"GHSA-35jh-r3h4-6jhm"}, Options{}, nil},
		{"pypi PEP 503 name and ranges", nil,
			sbom.Package{Name: "PyYAML", Version: "5.3", Ecosystem: sbom.PyPI},
			map[string]string{"PYSEC-2020-96": "5.3.1", "PYSEC-2021-142": "5.4"}, []string{"PYSEC-2018-49", "PYSEC-2020-176"}, Options{}, nil},
		{"maven last_affected", nil,
			sbom.Package{Name: "log4j:log4j", Version: "1.2.17", Ecosystem: sbom.Maven},
			map[string]string{"GHSA-65fg-84f6-3jq3": "", "GHSA-fp5r-v3w9-4333": ""}, nil, Options{},
			map[string]control.Severity{"GHSA-65fg-84f6-3jq3": control.SeverityCritical}},
		{"maven --severity critical", nil,
			sbom.Package{Name: "log4j:log4j", Version: "1.2.17", Ecosystem: sbom.Maven},
			map[string]string{"GHSA-65fg-84f6-3jq3": ""}, []string{"GHSA-w9p3-5cr8-m3jj"}, Options{MinSeverity: control.SeverityCritical}, nil},
		{"almalinux binary rpm, epoch", &sbom.Distro{ID: "almalinux", VersionID: "9.3"},
			sbom.Package{Name: "openssl-libs", Version: "1:3.0.7-24.el9", Ecosystem: sbom.AlmaLinux, SourceName: "openssl"},
			map[string]string{"ALSA-2026:22312": "1:3.5.5-3.el9_8", "ALSA-2026:25239": "1:3.5.5-4.el9_8"}, []string{"ALSA-2026:26275"}, Options{}, nil},
		{"almalinux fixed", &sbom.Distro{ID: "almalinux", VersionID: "9.8"},
			sbom.Package{Name: "openssl-libs", Version: "1:3.5.5-4.el9_8", Ecosystem: sbom.AlmaLinux},
			nil, []string{"ALSA-2026:22312", "ALSA-2026:25239"}, Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sbom.SBOM{Image: sbom.Image{Ref: "test"}, Distro: tt.distro, Packages: []sbom.Package{tt.pkg}}
			got, err := Match(testDB, s, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]Vulnerability{}
			for _, v := range got {
				byID[v.ID] = v
			}
			for id, fixed := range tt.want {
				v, ok := byID[id]
				if !ok {
					t.Errorf("%s not reported; got %v", id, keys(byID))
					continue
				}
				if v.Fixed != fixed {
					t.Errorf("%s fixed = %q, want %q", id, v.Fixed, fixed)
				}
				if sev, ok := tt.wantSev[id]; ok && v.Severity != sev {
					t.Errorf("%s severity = %v, want %v", id, v.Severity, sev)
				}
			}
			for _, id := range tt.absent {
				if _, ok := byID[id]; ok {
					t.Errorf("%s reported, want not", id)
				}
			}
		})
	}
}

func keys(m map[string]Vulnerability) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestIgnores(t *testing.T) {
	rules, err := ParseIgnores("vex.yaml", []byte(`ignore:
  - id: CVE-2021-23337
    package: lodash
    reason: templates are never built from user input
    expires: 2026-09-30
  - id: GHSA-65fg-84f6-3jq3
    reason: SocketServer is not used
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &sbom.SBOM{Image: sbom.Image{Ref: "app:1"}, Packages: []sbom.Package{
		{Name: "lodash", Version: "4.17.20", Ecosystem: sbom.Npm, Path: "/app/package-lock.json", Layer: "sha256:abc"},
		{Name: "log4j:log4j", Version: "1.2.17", Ecosystem: sbom.Maven, Path: "/app/lib/log4j-1.2.17.jar"},
	}}
	for _, tc := range []struct {
		now         time.Time
		lodashState string
	}{
		{time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC), "excepted"},
		{time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "fail"},
	} {
		got, err := Match(testDB, s, Options{Ignores: rules, Now: tc.now})
		if err != nil {
			t.Fatal(err)
		}
		res := Report("test", s, got, nil)
		var lodash, log4j string
		for _, f := range res.Findings {
			if f.Evidence == nil || f.Exception == nil {
				continue
			}
			switch {
			case f.Evidence.Value == "lodash@4.17.20, fixed in 4.17.21":
				lodash = f.Status
				if f.Exception.Reason == "" || f.Exception.Expired != (tc.lodashState == "fail") {
					t.Errorf("lodash exception = %+v", f.Exception)
				}
				if f.Evidence.Location != "/app/package-lock.json (layer sha256:abc)" || f.Object.Kind != "Image" || f.Object.Name != "app:1" {
					t.Errorf("lodash finding = %+v", f)
				}
			case f.Evidence.Value == "log4j:log4j@1.2.17, no fix available" && f.Message[:19] == "GHSA-65fg-84f6-3jq3":
				log4j = f.Status
			}
		}
		if lodash != tc.lodashState || log4j != "excepted" {
			t.Errorf("at %v: lodash %q, log4j %q; want %q, excepted", tc.now, lodash, log4j, tc.lodashState)
		}
	}
	for _, bad := range []string{"ignore:\n  - id: X\n", "ignore:\n  - reason: r\n", "ignore:\n  - id: X\n    reason: r\n    expires: soon\n", "ignores: []\n"} {
		if _, err := ParseIgnores("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("ParseIgnores(%q): want an error", bad)
		}
	}
}
