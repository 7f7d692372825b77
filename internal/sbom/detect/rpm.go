package detect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ErrRPMFormat is returned for rpmdb forms the pinned go-rpmdb
// (v0.0.0-20210911072402) cannot read: it reads the Berkeley DB
// "Packages" file only, not rpmdb.sqlite nor the ndb "Packages.db".
var ErrRPMFormat = errors.New("rpmdb format not supported by go-rpmdb v0.0.0-20210911072402 (Berkeley DB Packages only)")

// ParseRPMDB reads a Berkeley DB rpmdb ("Packages"). go-rpmdb reads a
// file by path, so the content is copied to a temporary file, removed on
// return; nothing else is written.
func ParseRPMDB(r io.Reader, limit int64) (pkgs []sbom.Package, err error) {
	f, err := os.CreateTemp("", "rampart-rpmdb-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = f.Close()
		if rerr := os.Remove(f.Name()); rerr != nil && err == nil {
			err = rerr
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("rpmdb larger than %d bytes", limit)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	db, err := openRPMDB(f.Name())
	if err != nil {
		return nil, err
	}
	list, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %w", err)
	}
	for _, p := range list {
		if p.Name == "" || p.Name == "gpg-pubkey" {
			continue
		}
		version := p.Version + "-" + p.Release
		q := map[string]string{}
		if p.Arch != "" {
			q["arch"] = p.Arch
		}
		if p.Epoch > 0 {
			q["epoch"] = strconv.Itoa(p.Epoch)
			version = strconv.Itoa(p.Epoch) + ":" + version
		}
		pkg := sbom.Package{Name: p.Name, Version: version, Ecosystem: sbom.RedHat}
		if p.License != "" {
			pkg.Licenses = []string{p.License}
		}
		if sn, sv, ok := splitSourceRPM(p.SourceRpm); ok {
			if p.Epoch > 0 {
				sv = strconv.Itoa(p.Epoch) + ":" + sv
			}
			if sn != pkg.Name || sv != pkg.Version {
				pkg.SourceName, pkg.SourceVersion = sn, sv
			}
		}
		pkg.PURL = packageurl.NewPackageURL(packageurl.TypeRPM, "redhat", p.Name, p.Version+"-"+p.Release, packageurl.QualifiersFromMap(q), "").ToString()
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
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
		return nil, fmt.Errorf("rpmdb: %s", oneLine(err))
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

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
