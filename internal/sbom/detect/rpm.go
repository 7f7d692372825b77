package detect

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/oneline"
	"github.com/rampart-dev/rampart/internal/sbom"
)

// ParseRPMDB reads a Berkeley DB rpmdb ("Packages"). go-rpmdb reads a
// file by path, so the content is copied to a temporary file, removed on
// return; nothing else is written.
func ParseRPMDB(r io.Reader, limit int64) (pkgs []sbom.Package, err error) {
	path, cleanup, err := tempCopy(r, limit, "rampart-rpmdb-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := cleanup(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	db, err := openRPMDB(path)
	if err != nil {
		return nil, err
	}
	list, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %w", err)
	}
	for _, p := range list {
		if pkg, ok := rpmPackage(rpmHeader{
			name: p.Name, version: p.Version, release: p.Release, arch: p.Arch,
			license: p.License, sourceRPM: p.SourceRpm, epoch: p.Epoch,
		}); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	return pkgs, nil
}

// rpmHeader is what Rampart reads from one rpm header.
type rpmHeader struct {
	name, version, release, arch, license, sourceRPM string
	epoch                                            int
}

// rpmPackage turns a header into a package: version epoch:version-release
// (no epoch when 0), the source rpm as SourceName/SourceVersion, a purl
// with arch and epoch qualifiers. gpg-pubkey pseudo-packages are dropped.
func rpmPackage(h rpmHeader) (sbom.Package, bool) {
	if h.name == "" || h.name == "gpg-pubkey" || h.version == "" {
		return sbom.Package{}, false
	}
	vr := h.version
	if h.release != "" {
		vr += "-" + h.release
	}
	version := vr
	q := map[string]string{}
	if h.arch != "" {
		q["arch"] = h.arch
	}
	if h.epoch > 0 {
		q["epoch"] = strconv.Itoa(h.epoch)
		version = strconv.Itoa(h.epoch) + ":" + vr
	}
	pkg := sbom.Package{Name: h.name, Version: version, Ecosystem: sbom.RedHat}
	if h.license != "" {
		pkg.Licenses = []string{h.license}
	}
	if sn, sv, ok := splitSourceRPM(h.sourceRPM); ok {
		if h.epoch > 0 {
			sv = strconv.Itoa(h.epoch) + ":" + sv
		}
		if sn != pkg.Name || sv != pkg.Version {
			pkg.SourceName, pkg.SourceVersion = sn, sv
		}
	}
	pkg.PURL = packageurl.NewPackageURL(packageurl.TypeRPM, "redhat", h.name, vr, packageurl.QualifiersFromMap(q), "").ToString()
	return pkg, true
}

// openRPMDB recovers from panics in go-rpmdb's Berkeley DB reader, which
// indexes pages from the file without bounds checks.
func openRPMDB(path string) (db *rpmdb.RpmDB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("rpmdb: unreadable (%v)", r)
		}
	}()
	db, err = rpmdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %s", oneline.Err(err))
	}
	return db, nil
}

// splitSourceRPM splits "bash-5.1.8-6.el9.src.rpm" into "bash" and
// "5.1.8-6.el9".
func splitSourceRPM(s string) (name, version string, ok bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".rpm"), ".src")
	s = strings.TrimSuffix(s, ".nosrc")
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return s[:j], s[j+1:], true
}

// tempCopy copies at most limit bytes of r to a new temporary file named by
// pattern, for readers that need a path; cleanup removes it.
func tempCopy(r io.Reader, limit int64, pattern string) (path string, cleanup func() error, err error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	cleanup = func() error { return os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("rpmdb larger than %d bytes", limit)
	}
	if err != nil {
		_ = cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}
