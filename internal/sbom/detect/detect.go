// Package detect finds installed packages in an image's squashed
// filesystem: one parser per package format (os-release, dpkg, apk, rpm,
// Go binaries, npm, Python, Java), an image.Analyzer that routes files to
// them, and Build, which turns what survived the squash into an SBOM.
package detect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/sbom"
)

type format uint8

const (
	fmtNone format = iota
	fmtOSRelease
	fmtDpkg
	fmtAPK
	fmtRPMBDB
	fmtRPMSqlite
	fmtRPMNdb
	fmtPackageLock
	fmtPackageJSON
	fmtPython
	fmtJava
	fmtExecutable
)

// Per-format size caps for files read into memory.
const (
	maxTextFile   = 64 << 20
	maxExecutable = 256 << 20
	maxJar        = 256 << 20
	maxRPMDB      = 512 << 20
)

func classify(name string, mode fs.FileMode) format {
	switch name {
	case "etc/os-release", "usr/lib/os-release":
		return fmtOSRelease
	case "var/lib/dpkg/status":
		return fmtDpkg
	case "lib/apk/db/installed":
		return fmtAPK
	case "var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages":
		return fmtRPMBDB
	case "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite":
		return fmtRPMSqlite
	case "var/lib/rpm/Packages.db", "usr/lib/sysimage/rpm/Packages.db":
		return fmtRPMNdb
	}
	dir, base := path.Split(name)
	switch {
	case dir == "var/lib/dpkg/status.d/" && !strings.HasSuffix(base, ".md5sums"):
		return fmtDpkg
	case base == "package-lock.json" && !strings.Contains(dir, "node_modules/"):
		return fmtPackageLock
	case base == "package.json" && isNodeModule(dir):
		return fmtPackageJSON
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info/"),
		base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info/"),
		strings.HasSuffix(base, ".egg-info"):
		return fmtPython
	case isJavaArchive(base):
		return fmtJava
	case mode&0o111 != 0:
		return fmtExecutable
	}
	return fmtNone
}

// isNodeModule reports whether dir is node_modules/<name>/ or
// node_modules/@scope/<name>/ (a package's own package.json, not one
// deeper inside it).
func isNodeModule(dir string) bool {
	i := strings.LastIndex(dir, "node_modules/")
	if i < 0 {
		return false
	}
	rest := strings.TrimSuffix(dir[i+len("node_modules/"):], "/")
	parts := strings.Split(rest, "/")
	switch len(parts) {
	case 1:
		return parts[0] != "" && parts[0][0] != '.' && parts[0][0] != '@'
	case 2:
		return strings.HasPrefix(parts[0], "@")
	}
	return false
}

// Analyzer routes image files to the package parsers. It is not safe for
// concurrent use (it reuses one read buffer).
type Analyzer struct {
	buf bytes.Buffer
}

var _ image.Analyzer = (*Analyzer)(nil)

// Match implements image.Analyzer.
func (a *Analyzer) Match(name string, mode fs.FileMode) bool {
	return classify(name, mode) != fmtNone
}

var elfMagic = []byte("\x7fELF")

// Analyze implements image.Analyzer.
func (a *Analyzer) Analyze(_ context.Context, f *image.File) (*image.Found, error) {
	switch classify(f.Path, f.Mode) {
	case fmtOSRelease:
		d, err := ParseOSRelease(io.LimitReader(f.R, 1<<20))
		if err != nil || d == nil {
			return nil, err
		}
		return &image.Found{Distro: d}, nil
	case fmtDpkg:
		return packages(ParseDpkgStatus(f.R))
	case fmtAPK:
		return packages(ParseAPKInstalled(f.R))
	case fmtRPMBDB:
		return packages(ParseRPMDB(f.R, maxRPMDB))
	case fmtRPMSqlite:
		return packages(ParseRPMSqlite(f.R, maxRPMDB))
	case fmtRPMNdb:
		return packages(ParseRPMNdb(f.R, maxRPMDB))
	case fmtPython:
		p, err := ParsePythonMetadata(f.R)
		if err != nil || p == nil {
			return nil, err
		}
		return &image.Found{Packages: []sbom.Package{*p}}, nil
	case fmtPackageLock:
		b, err := a.read(f, maxTextFile)
		if err != nil {
			return nil, err
		}
		return packages(ParsePackageLock(b))
	case fmtPackageJSON:
		b, err := a.read(f, 1<<20)
		if err != nil {
			return nil, err
		}
		p, err := ParsePackageJSON(b)
		if err != nil || p == nil {
			return nil, err
		}
		return &image.Found{Packages: []sbom.Package{*p}}, nil
	case fmtJava:
		b, err := a.read(f, maxJar)
		if err != nil {
			return nil, err
		}
		return packages(ParseJavaArchive(b, f.Path))
	case fmtExecutable:
		if f.Size < 64 || f.Size > maxExecutable {
			return nil, nil
		}
		var magic [4]byte
		if _, err := io.ReadFull(f.R, magic[:]); err != nil || !bytes.Equal(magic[:], elfMagic) {
			return nil, nil //nolint:nilerr // a short or non-ELF executable is not a Go binary
		}
		a.buf.Reset()
		a.buf.Write(magic[:])
		if _, err := a.buf.ReadFrom(f.R); err != nil {
			return nil, err
		}
		pk := ParseGoBinary(a.buf.Bytes())
		a.shrink()
		if len(pk) == 0 {
			return nil, nil
		}
		return &image.Found{Packages: pk}, nil
	}
	return nil, nil
}

func packages(p []sbom.Package, err error) (*image.Found, error) {
	if err != nil || len(p) == 0 {
		return nil, err
	}
	return &image.Found{Packages: p}, nil
}

func (a *Analyzer) read(f *image.File, limit int64) ([]byte, error) {
	if f.Size > limit {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit for this format", f.Size, limit)
	}
	a.buf.Reset()
	if _, err := a.buf.ReadFrom(io.LimitReader(f.R, limit)); err != nil {
		return nil, err
	}
	b := bytes.Clone(a.buf.Bytes())
	a.shrink()
	return b, nil
}

// shrink drops a buffer grown by one large file, so that a big binary does
// not pin its size for the rest of the image.
func (a *Analyzer) shrink() {
	if a.buf.Cap() > 16<<20 {
		a.buf = bytes.Buffer{}
	}
}

// Build turns the squashed filesystem into an SBOM: the distribution from
// etc/os-release (else usr/lib/os-release, symbolic links followed inside
// the image), distribution packages in the distribution's ecosystem with
// its purl namespace and distro qualifier, and every package sorted by
// ecosystem, name, version and path.
func Build(fsys *image.FS, img sbom.Image) *sbom.SBOM {
	s := &sbom.SBOM{Image: img, Packages: []sbom.Package{}}
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		if e, ok := fsys.Lookup(p); ok && e.Found != nil && e.Found.Distro != nil {
			d := *e.Found.Distro
			s.Distro = &d
			break
		}
	}
	for _, e := range fsys.Entries() {
		if e.Found == nil {
			continue
		}
		for _, p := range e.Found.Packages {
			s.Packages = append(s.Packages, distroPackage(p, s.Distro))
		}
	}
	s.Packages = dedupeNPM(s.Packages)
	sort.SliceStable(s.Packages, func(i, j int) bool {
		a, b := s.Packages[i], s.Packages[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Path < b.Path
	})
	return s
}

// distroEcosystem maps an os-release ID to the OSV ecosystem and purl
// namespace of its packages.
func distroEcosystem(id string) (sbom.Ecosystem, string) {
	switch id {
	case "ubuntu":
		return sbom.Ubuntu, "ubuntu"
	case "debian":
		return sbom.Debian, "debian"
	case "alpine":
		return sbom.Alpine, "alpine"
	case "rhel":
		return sbom.RedHat, "redhat"
	case "almalinux":
		return sbom.AlmaLinux, "almalinux"
	case "rocky":
		return sbom.Rocky, "rocky"
	}
	return "", id
}

func distroPackage(p sbom.Package, d *sbom.Distro) sbom.Package {
	if d == nil {
		return p
	}
	switch p.Ecosystem {
	case sbom.Debian, sbom.Alpine, sbom.RedHat:
	default:
		return p
	}
	eco, ns := distroEcosystem(d.ID)
	if eco != "" {
		p.Ecosystem = eco
	}
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		return p
	}
	if ns != "" {
		u.Namespace = ns
	}
	distro := d.VersionID
	if p.Ecosystem != sbom.Alpine {
		distro = d.ID + "-" + d.VersionID
	}
	if d.VersionID != "" {
		m := u.Qualifiers.Map()
		m["distro"] = distro
		u.Qualifiers = packageurl.QualifiersFromMap(m)
	}
	p.PURL = u.ToString()
	return p
}

// npmKey identifies one installed npm package of one project.
type npmKey struct{ root, name, version string }

// npmRoot is the project directory an npm package was found for: the
// directory of its package-lock.json, or the directory above the first
// node_modules of its package.json.
func npmRoot(path string) string {
	if i := strings.Index(path, "/node_modules/"); i >= 0 {
		return path[:i]
	}
	if strings.HasPrefix(path, "node_modules/") {
		return ""
	}
	if path == "package-lock.json" {
		return ""
	}
	dir, _, _ := strings.Cut(path, "/package-lock.json")
	if dir == path {
		return "\x00" + path // neither form: never equal to another root
	}
	return dir
}

// dedupeNPM drops a package found in node_modules/…/package.json when the
// project's package-lock.json lists the same name and version: the lock
// is the record of what npm installed, and one installed package must not
// be reported (and matched) twice.
func dedupeNPM(pkgs []sbom.Package) []sbom.Package {
	locked := map[npmKey]bool{}
	for _, p := range pkgs {
		if p.Ecosystem == sbom.Npm && strings.HasSuffix(p.Path, "package-lock.json") {
			locked[npmKey{npmRoot(p.Path), p.Name, p.Version}] = true
		}
	}
	if len(locked) == 0 {
		return pkgs
	}
	out := pkgs[:0]
	for _, p := range pkgs {
		if p.Ecosystem == sbom.Npm && strings.HasSuffix(p.Path, "/package.json") && locked[npmKey{npmRoot(p.Path), p.Name, p.Version}] {
			continue
		}
		out = append(out, p)
	}
	return out
}
