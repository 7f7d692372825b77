// Package version compares package versions with each ecosystem's own
// ordering: dpkg (Debian, Ubuntu), apk-tools (Alpine), rpm EVR (Red Hat,
// AlmaLinux, Rocky Linux), semantic versioning (Go modules and npm), PEP 440
// (PyPI) and Maven ComparableVersion. The comparisons are those of
// well-kept libraries (knqyf263/go-deb-version, go-apk-version,
// go-rpm-version, aquasecurity/go-pep440-version, masahiro331/go-mvn-version,
// golang.org/x/mod/semver); this package picks one per ecosystem, validates
// input and normalises the Go and npm spellings.
package version

import (
	"fmt"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
	apk "github.com/knqyf263/go-apk-version"
	deb "github.com/knqyf263/go-deb-version"
	rpm "github.com/knqyf263/go-rpm-version"
	mvn "github.com/masahiro331/go-mvn-version"
	"golang.org/x/mod/semver"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// Version is a parsed version of one ecosystem. Compare is only meaningful
// between versions of the same ecosystem.
type Version interface {
	// Compare returns -1, 0 or +1 as v sorts before, with or after o.
	Compare(o Version) int
	// String returns the version as given.
	String() string
}

// Parse parses s in ecosystem eco's syntax. eco may carry a release
// suffix ("Debian:12", "Alpine:v3.19"), which is ignored.
func Parse(eco sbom.Ecosystem, s string) (Version, error) {
	base := Base(string(eco))
	p, ok := parsers[base]
	if !ok {
		return nil, fmt.Errorf("version %q: ecosystem %q is not supported", s, eco)
	}
	if s == "" {
		return nil, fmt.Errorf("%s version: empty", base)
	}
	v, err := p(s)
	if err != nil {
		return nil, fmt.Errorf("%s version %q: %w", base, s, err)
	}
	return v, nil
}

// Compare parses a and b in ecosystem eco's syntax and compares them.
func Compare(eco sbom.Ecosystem, a, b string) (int, error) {
	va, err := Parse(eco, a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(eco, b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// Supported reports whether eco (with or without release suffix) has a
// version ordering here.
func Supported(eco sbom.Ecosystem) bool {
	_, ok := parsers[Base(string(eco))]
	return ok
}

// Base returns the ecosystem without its release suffix: "Debian:12" →
// "Debian", "Red Hat:rhel_eus:9.2::appstream" → "Red Hat".
func Base(eco string) sbom.Ecosystem {
	if i := strings.IndexByte(eco, ':'); i >= 0 {
		eco = eco[:i]
	}
	return sbom.Ecosystem(eco)
}

var parsers = map[sbom.Ecosystem]func(string) (Version, error){
	sbom.Debian:    parseDeb,
	sbom.Ubuntu:    parseDeb,
	sbom.Alpine:    parseApk,
	sbom.RedHat:    parseRPM,
	sbom.AlmaLinux: parseRPM,
	sbom.Rocky:     parseRPM,
	sbom.Go:        parseGo,
	sbom.Npm:       parseNpm,
	sbom.PyPI:      parsePEP440,
	sbom.Maven:     parseMaven,
}

type debV struct {
	s string
	v deb.Version
}

func (v debV) Compare(o Version) int { return sign(v.v.Compare(o.(debV).v)) }
func (v debV) String() string        { return v.s }

func parseDeb(s string) (Version, error) {
	v, err := deb.NewVersion(s)
	if err != nil {
		return nil, err
	}
	return debV{s, v}, nil
}

// sign normalises a comparison result to -1, 0 or +1.
func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

type apkV struct{ v apk.Version }

func (v apkV) Compare(o Version) int { return sign(v.v.Compare(o.(apkV).v)) }
func (v apkV) String() string        { return string(v.v) }

func parseApk(s string) (Version, error) {
	v, err := apk.NewVersion(s)
	if err != nil {
		return nil, err
	}
	return apkV{v}, nil
}

type rpmV struct {
	s string
	v rpm.Version
}

func (v rpmV) Compare(o Version) int { return sign(v.v.Compare(o.(rpmV).v)) }
func (v rpmV) String() string        { return v.s }

// parseRPM parses [epoch:]version[-release]. An epoch that is not a number
// is an error (the library would read it as 0).
func parseRPM(s string) (Version, error) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		e := s[:i]
		if e == "" || strings.Trim(e, "0123456789") != "" {
			return nil, fmt.Errorf("epoch %q is not a number", e)
		}
		if i == len(s)-1 {
			return nil, fmt.Errorf("no version after the epoch")
		}
	}
	if strings.ContainsAny(s, " \t\n") {
		return nil, fmt.Errorf("contains white space")
	}
	return rpmV{s, rpm.NewVersion(s)}, nil
}

type semV struct {
	s string
	v string // canonical "v"-prefixed form for x/mod/semver
}

func (v semV) Compare(o Version) int { return semver.Compare(v.v, o.(semV).v) }
func (v semV) String() string        { return v.s }

// parseGo accepts Go module versions with or without the "v" prefix (OSV
// writes them without), pseudo-versions and +incompatible, and Go release
// versions (go1.21.3, 1.22rc1) for the stdlib and toolchain.
func parseGo(s string) (Version, error) {
	t := strings.TrimPrefix(s, "go")
	if !strings.HasPrefix(t, "v") {
		t = "v" + t
	}
	if !semver.IsValid(t) {
		if g, ok := goRelease(t); ok {
			t = g
		}
	}
	if !semver.IsValid(t) {
		return nil, fmt.Errorf("not a semantic version")
	}
	return semV{s, t}, nil
}

// goRelease turns a Go release spelling (v1.21, v1.22rc1, v1.20beta2) into
// semver: v1.21.0, v1.22.0-rc.1, v1.20.0-beta.2.
func goRelease(t string) (string, bool) {
	num, pre := t, ""
	for _, p := range []string{"rc", "beta", "alpha"} {
		if i := strings.Index(t, p); i > 0 {
			num, pre = t[:i], "-"+p+"."+t[i+len(p):]
			break
		}
	}
	if strings.Count(num, ".") == 1 {
		num += ".0"
	}
	g := num + pre
	return g, semver.IsValid(g)
}

// parseNpm accepts npm semver versions (an optional leading "v" or "=").
func parseNpm(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "="), "v")
	t = "v" + t
	// npm requires major.minor.patch; x/mod/semver also accepts v1 and v1.2.
	core := t
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	if strings.Count(core, ".") != 2 || !semver.IsValid(t) {
		return nil, fmt.Errorf("not a semantic version")
	}
	return semV{s, t}, nil
}

type pepV struct{ v pep440.Version }

func (v pepV) Compare(o Version) int { return sign(v.v.Compare(o.(pepV).v)) }
func (v pepV) String() string        { return v.v.Original() }

func parsePEP440(s string) (Version, error) {
	v, err := pep440.Parse(s)
	if err != nil {
		return nil, err
	}
	return pepV{v}, nil
}

type mvnV struct{ v mvn.Version }

func (v mvnV) Compare(o Version) int { return sign(v.v.Compare(o.(mvnV).v)) }
func (v mvnV) String() string        { return v.v.String() }

func parseMaven(s string) (Version, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty")
	}
	v, err := mvn.NewVersion(s)
	if err != nil {
		return nil, err
	}
	return mvnV{v}, nil
}
