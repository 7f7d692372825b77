package detect

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom"
)

// TestBuildDistroEcosystems: distribution packages take the ecosystem,
// purl namespace and distro qualifier of the image's os-release.
func TestBuildDistroEcosystems(t *testing.T) {
	ubuntu := "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n"
	alma := "NAME=\"AlmaLinux\"\nVERSION=\"9.4 (Seafoam Ocelot)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4 (Seafoam Ocelot)\"\n"
	tests := []struct {
		name    string
		files   []imagetest.File
		pkg     string
		eco     sbom.Ecosystem
		purl    string
		distro  string
		version string
	}{
		{
			name: "ubuntu dpkg",
			files: []imagetest.File{
				{Name: "etc/os-release", Body: []byte(ubuntu)},
				{Name: "var/lib/dpkg/status", Body: read(t, "testdata/dpkg/status")},
			},
			pkg: "libssl3", eco: sbom.Ubuntu, distro: "ubuntu",
			purl: "pkg:deb/ubuntu/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=ubuntu-24.04",
		},
		{
			name: "almalinux rpmdb.sqlite",
			files: []imagetest.File{
				{Name: "usr/lib/os-release", Body: []byte(alma)},
				{Name: "etc/os-release", Type: '2', Link: "../usr/lib/os-release"},
				{Name: "var/lib/rpm/rpmdb.sqlite", Body: rpmSqlite(t, almaHeaders...)},
			},
			pkg: "openssl-libs", eco: sbom.AlmaLinux, distro: "almalinux",
			purl: "pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=almalinux-9.4&epoch=1",
		},
		{
			name: "alpine",
			files: []imagetest.File{
				{Name: "etc/os-release", Body: read(t, "testdata/osrelease/alpine-3.20")},
				{Name: "lib/apk/db/installed", Body: read(t, "testdata/apk/installed")},
			},
			pkg: "musl", eco: sbom.Alpine, distro: "alpine",
			purl: "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=3.20.3",
		},
		{
			name: "broken ndb is a warning",
			files: []imagetest.File{
				{Name: "etc/os-release", Body: []byte(alma)},
				{Name: "var/lib/rpm/Packages.db", Body: []byte("RpmP")},
			},
			distro: "almalinux",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := imagetest.Image(t, v1.Platform{OS: "linux", Architecture: "amd64"}, imagetest.Layer(t, tt.files...))
			fsys, err := image.Squash(context.Background(), img, &Analyzer{}, image.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			s := Build(fsys, sbom.Image{Ref: tt.name})
			if s.Distro == nil || s.Distro.ID != tt.distro {
				t.Fatalf("distro %+v", s.Distro)
			}
			if tt.pkg == "" {
				if len(s.Packages) != 0 || len(fsys.Warnings()) != 1 || !strings.Contains(fsys.Warnings()[0], "rpmdb Packages.db: not an ndb rpmdb") {
					t.Errorf("packages %+v warnings %q", s.Packages, fsys.Warnings())
				}
				return
			}
			p, ok := find(s.Packages, tt.pkg)
			if !ok || p.Ecosystem != tt.eco || p.PURL != tt.purl {
				t.Errorf("%s: %+v", tt.pkg, p)
			}
		})
	}
}

// TestBuildDedupesNPM: a package listed by a project's package-lock.json
// and found again as node_modules/<name>/package.json is one package;
// another version, another project, or a package the lock does not list
// stay.
func TestBuildDedupesNPM(t *testing.T) {
	lock := `{"name":"app","lockfileVersion":3,"packages":{"":{"name":"app"},` +
		`"node_modules/lodash":{"version":"4.17.20"},"node_modules/a/node_modules/lodash":{"version":"3.10.1"}}}`
	pj := func(name, version string) []byte {
		return []byte(`{"name":"` + name + `","version":"` + version + `"}`)
	}
	img := imagetest.Image(t, v1.Platform{OS: "linux", Architecture: "amd64"},
		imagetest.Layer(t,
			imagetest.File{Name: "srv/app/package-lock.json", Body: []byte(lock)},
			imagetest.File{Name: "srv/app/node_modules/lodash/package.json", Body: pj("lodash", "4.17.20")},
			imagetest.File{Name: "srv/app/node_modules/a/node_modules/lodash/package.json", Body: pj("lodash", "3.10.1")},
			imagetest.File{Name: "srv/app/node_modules/left-pad/package.json", Body: pj("left-pad", "1.3.0")},
			imagetest.File{Name: "opt/other/node_modules/lodash/package.json", Body: pj("lodash", "4.17.20")},
		))
	fsys, err := image.Squash(context.Background(), img, &Analyzer{}, image.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Build(fsys, sbom.Image{}).Packages {
		got = append(got, p.Name+"@"+p.Version+" "+p.Path)
	}
	want := []string{
		"left-pad@1.3.0 srv/app/node_modules/left-pad/package.json",
		"lodash@3.10.1 srv/app/package-lock.json",
		"lodash@4.17.20 opt/other/node_modules/lodash/package.json",
		"lodash@4.17.20 srv/app/package-lock.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
