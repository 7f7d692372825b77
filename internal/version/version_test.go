package version

import (
	"testing"

	"github.com/rampart-dev/rampart/internal/sbom"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		eco  sbom.Ecosystem
		a, b string
		want int
	}{
		// dpkg: Debian policy 5.6.12 examples; epochs; tilde sorts before
		// everything, even the end of the string.
		{sbom.Debian, "1.0~rc1", "1.0", -1},
		{sbom.Debian, "1.0~rc1-1", "1.0-1", -1},
		{sbom.Debian, "1.0~~", "1.0~~a", -1},
		{sbom.Debian, "1.0~~a", "1.0~", -1},
		{sbom.Debian, "1.0~", "1.0", -1},
		{sbom.Debian, "1.0", "1.0a", -1},
		{sbom.Debian, "1:1.0", "2.0", 1},
		{sbom.Debian, "1.1.0l-1~deb9u6", "1.1.0l-1~deb9u5", 1},
		{sbom.Debian, "1.1.0l-1~deb9u6", "1.1.0l-1", -1},
		{sbom.Debian, "2.9.4+dfsg1-2.2+deb9u7", "2.9.4+dfsg1-2.2+deb9u6", 1},
		{sbom.Debian, "1.0-1", "1.0-1", 0},
		{"Debian:12", "3.0.11-1~deb12u2", "3.0.11-1~deb12u2", 0},
		{sbom.Ubuntu, "2.35-0ubuntu3.6", "2.35-0ubuntu3.10", -1},
		// apk-tools: suffix order _alpha < _beta < _pre < _rc < (none) < _p.
		{sbom.Alpine, "1.2.3_alpha1-r0", "1.2.3_beta1-r0", -1},
		{sbom.Alpine, "1.2.3_rc1-r0", "1.2.3-r0", -1},
		{sbom.Alpine, "1.2.3-r0", "1.2.3_p1-r0", -1},
		{sbom.Alpine, "1.2.3-r4", "1.2.3-r10", -1},
		{sbom.Alpine, "1.2.4_git20230717-r5", "1.2.4-r0", 1},
		{sbom.Alpine, "0.9.13", "1.2.3-r4", -1},
		{"Alpine:v3.19", "1.2.4_git20230717-r5", "1.2.4_git20230717-r5", 0},
		// rpm EVR: epoch wins; rpmvercmp segments; tilde and caret.
		{sbom.AlmaLinux, "1:0.08-481.el9", "0.09-1.el9", 1},
		{sbom.AlmaLinux, "3.0.7-24.el9", "3.0.7-25.el9_3", -1},
		{sbom.Rocky, "0:1.0-1.el8", "1.0-1.el8", 0},
		{sbom.RedHat, "1.0~rc1-1", "1.0-1", -1},
		{sbom.RedHat, "1.0^git1-1", "1.0-1", 1},
		{sbom.AlmaLinux, "9.9p1-7.el9_8.alma.1", "9.9p1-7.el9_8", 1},
		{sbom.AlmaLinux, "2.3-1.module_el8.10.0+4162+0aac7c4c", "2.3-1.module_el8.9.0+1+abc", 1},
		{sbom.RedHat, "1.10-1", "1.9-1", 1},
		// Go: OSV writes SEMVER without v; pseudo-versions; +incompatible.
		{sbom.Go, "v0.17.0", "0.17.0", 0},
		{sbom.Go, "v0.0.0-20230321023759-10a507213a29", "0.7.0", -1},
		{sbom.Go, "v0.0.0-20230321023759-10a507213a29", "0.0.0-20220101000000-aaaaaaaaaaaa", 1},
		{sbom.Go, "v1.5.1-0.20230101000000-abcdefabcdef", "1.5.0", 1},
		{sbom.Go, "v1.5.1-0.20230101000000-abcdefabcdef", "1.5.1", -1},
		{sbom.Go, "v3.2.0+incompatible", "3.2.1", -1},
		{sbom.Go, "v3.2.0+incompatible", "3.2.0", 0},
		{sbom.Go, "go1.21.3", "1.21.10", -1},
		{sbom.Go, "go1.22rc1", "1.22.0", -1},
		{sbom.Go, "1.22.0-rc.1", "1.22rc1", 0},
		// npm semver: pre-releases sort before the release, numerically.
		{sbom.Npm, "1.0.0-alpha", "1.0.0-alpha.1", -1},
		{sbom.Npm, "1.0.0-alpha.beta", "1.0.0-beta", -1},
		{sbom.Npm, "1.0.0-beta.2", "1.0.0-beta.11", -1},
		{sbom.Npm, "1.0.0-rc.1", "1.0.0", -1},
		{sbom.Npm, "4.17.21", "4.17.4", 1},
		{sbom.Npm, "v2.0.0", "2.0.0", 0},
		// PEP 440 ordering examples.
		{sbom.PyPI, "1.0.dev456", "1.0a1", -1},
		{sbom.PyPI, "1.0a12.dev456", "1.0a12", -1},
		{sbom.PyPI, "1.0b2.post345", "1.0c1", -1},
		{sbom.PyPI, "1.0rc1", "1.0", -1},
		{sbom.PyPI, "1.0", "1.0+abc.5", -1},
		{sbom.PyPI, "1.0.post456.dev34", "1.0.post456", -1},
		{sbom.PyPI, "1!1.0", "2.0", 1},
		{sbom.PyPI, "2.31.0", "2.4.2", 1},
		{sbom.PyPI, "1.0", "1.0.0", 0},
		// Maven ComparableVersion.
		{sbom.Maven, "1.0-alpha-1", "1.0", -1},
		{sbom.Maven, "1.0-SNAPSHOT", "1.0", -1},
		{sbom.Maven, "1.0", "1.0.0", 0},
		{sbom.Maven, "1.0-ga", "1.0", 0},
		{sbom.Maven, "1.0-sp1", "1.0", 1},
		{sbom.Maven, "2.13.2.1", "2.13.2", 1},
		{sbom.Maven, "5.2.20.RELEASE", "5.2.19.RELEASE", 1},
		{sbom.Maven, "5.2.20.RELEASE", "5.2.20", 0},
		{sbom.Maven, "14.0.1-h-3", "14.0.1", 1},
		{sbom.Maven, "1.0-rc1", "1.0-cr1", 0},
	}
	for _, tt := range tests {
		got, err := Compare(tt.eco, tt.a, tt.b)
		if err != nil {
			t.Errorf("Compare(%s, %q, %q): %v", tt.eco, tt.a, tt.b, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Compare(%s, %q, %q) = %d, want %d", tt.eco, tt.a, tt.b, got, tt.want)
		}
		if back, _ := Compare(tt.eco, tt.b, tt.a); back != -tt.want {
			t.Errorf("Compare(%s, %q, %q) = %d, want %d (antisymmetry)", tt.eco, tt.b, tt.a, back, -tt.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		eco sbom.Ecosystem
		s   string
	}{
		{sbom.Debian, "a:1.0"},
		{sbom.Debian, ""},
		{sbom.Alpine, "1.2.3-rx"},
		{sbom.AlmaLinux, "x:1.0-1"},
		{sbom.AlmaLinux, "1:"},
		{sbom.Go, "latest"},
		{sbom.Npm, "1.2"},
		{sbom.Npm, "not-a-version"},
		{sbom.PyPI, "1.0-foo-bar!"},
		{sbom.Maven, " "},
		{"Hackage", "1.0"},
	}
	for _, tt := range tests {
		if v, err := Parse(tt.eco, tt.s); err == nil {
			t.Errorf("Parse(%s, %q) = %v, want an error", tt.eco, tt.s, v)
		}
	}
}

func TestBase(t *testing.T) {
	for in, want := range map[string]sbom.Ecosystem{
		"Debian:12":                       sbom.Debian,
		"Alpine:v3.19":                    sbom.Alpine,
		"Red Hat:rhel_eus:9.2::appstream": sbom.RedHat,
		"npm":                             sbom.Npm,
	} {
		if got := Base(in); got != want {
			t.Errorf("Base(%q) = %q, want %q", in, got, want)
		}
	}
	if !Supported("Rocky Linux:9") || Supported("crates.io") {
		t.Error("Supported: Rocky Linux:9 should be, crates.io should not")
	}
}
