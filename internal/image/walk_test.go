package image_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func testdata(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sbom", "detect", "testdata", p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func squash(t *testing.T, img v1.Image, lim image.Limits) (*image.FS, *sbom.SBOM) {
	t.Helper()
	fsys, err := image.Squash(context.Background(), img, &detect.Analyzer{}, lim)
	if err != nil {
		t.Fatal(err)
	}
	return fsys, detect.Build(fsys, sbom.Image{Ref: "test"})
}

func byName(s *sbom.SBOM) map[string]sbom.Package {
	m := map[string]sbom.Package{}
	for _, p := range s.Packages {
		m[p.Name] = p
	}
	return m
}

func digest(t testing.TB, l v1.Layer) string {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestSquashWhiteoutsAndLayers: a package removed by a whiteout in an
// upper layer disappears, an opaque directory hides everything below it,
// and a dpkg package keeps the layer that first listed it although every
// layer rewrites the status file.
func TestSquashWhiteoutsAndLayers(t *testing.T) {
	status := testdata(t, "dpkg/status")
	tz := testdata(t, "dpkg/status.d-tzdata")
	base := imagetest.Layer(t,
		imagetest.File{Name: "usr/lib/os-release", Body: testdata(t, "osrelease/debian-12")},
		imagetest.File{Name: "etc/os-release", Type: '2', Link: "../usr/lib/os-release"},
		imagetest.File{Name: "var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", Body: testdata(t, "python/PyYAML-6.0.METADATA")},
		imagetest.File{Name: "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", Body: testdata(t, "python/PyJWT-2.6.0.PKG-INFO")},
		imagetest.File{Name: "app/node_modules/semver/package.json", Body: testdata(t, "npm/node_modules/semver/package.json")},
	)
	// The upper layer installs tzdata's paragraph again (status rewritten
	// with one more package), removes PyYAML, and replaces node_modules.
	upper := imagetest.Layer(t,
		imagetest.File{Name: "var/lib/dpkg/status", Body: append(append(append([]byte{}, status...), '\n'), []byte(strings.Replace(string(tz), "Package: tzdata", "Package: tzdata-legacy\nStatus: install ok installed", 1))...)},
		imagetest.File{Name: "usr/lib/python3/dist-packages/.wh.PyYAML-6.0.dist-info"},
		imagetest.File{Name: "app/node_modules/minipass/package.json", Body: testdata(t, "npm/node_modules/minipass/package.json")},
		imagetest.File{Name: "app/node_modules/.wh..wh..opq"},
	)
	_, s := squash(t, imagetest.Image(t, amd64, base, upper), image.Limits{})
	if s.Distro == nil || s.Distro.ID != "debian" || s.Distro.VersionID != "12" {
		t.Errorf("distro through etc/os-release → ../usr/lib/os-release: %+v", s.Distro)
	}
	got := byName(s)
	for _, gone := range []string{"PyYAML", "semver"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s survived its whiteout", gone)
		}
	}
	lower, top := digest(t, base), digest(t, upper)
	tests := []struct{ name, layer, path string }{
		{"bash", lower, "var/lib/dpkg/status"},
		{"tzdata-legacy", top, "var/lib/dpkg/status"},
		{"PyJWT", lower, "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO"},
		{"minipass", top, "app/node_modules/minipass/package.json"},
	}
	for _, tt := range tests {
		p, ok := got[tt.name]
		if !ok {
			t.Errorf("%s missing", tt.name)
			continue
		}
		if p.Layer != tt.layer || p.Path != tt.path {
			t.Errorf("%s: layer %s path %s, want %s %s", tt.name, p.Layer, p.Path, tt.layer, tt.path)
		}
	}
	if b := got["bash"]; b.Ecosystem != sbom.Debian || b.PURL != "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12" {
		t.Errorf("bash: %+v", b)
	}
}

// TestSquashReplacedAndDeletedFiles: a file replaced by a non-matching
// file or a directory in an upper layer loses its packages; a whiteout of
// a parent directory removes everything below.
func TestSquashReplacedAndDeletedFiles(t *testing.T) {
	base := imagetest.Layer(t,
		imagetest.File{Name: "lib/apk/db/installed", Body: testdata(t, "apk/installed")},
		imagetest.File{Name: "etc/os-release", Body: testdata(t, "osrelease/alpine-3.20")},
		imagetest.File{Name: "srv/node_modules/semver/package.json", Body: testdata(t, "npm/node_modules/semver/package.json")},
	)
	upper := imagetest.Layer(t,
		imagetest.File{Name: "lib/apk/db/installed", Type: '2', Link: "/dev/null"},
		imagetest.File{Name: ".wh.srv"},
	)
	_, s := squash(t, imagetest.Image(t, amd64, base, upper), image.Limits{})
	if len(s.Packages) != 0 {
		t.Errorf("packages survived: %+v", s.Packages)
	}
	_, s = squash(t, imagetest.Image(t, amd64, base), image.Limits{})
	p := byName(s)["libssl3"]
	if p.Ecosystem != sbom.Alpine || p.PURL != "pkg:apk/alpine/libssl3@3.3.2-r0?arch=x86_64&distro=3.20.3" || p.SourceName != "openssl" {
		t.Errorf("libssl3: %+v", p)
	}
}

// TestSquashHostile: traversal, absolute names, symlink escapes and loops,
// a 10 GB sparse file, tar bombs and a corrupt gzip: entries skipped with a
// warning or a one-line error naming the layer, nothing read from the host
// and no panic.
func TestSquashHostile(t *testing.T) {
	status := testdata(t, "dpkg/status")
	t.Run("traversal and absolute names", func(t *testing.T) {
		l := imagetest.Layer(t,
			imagetest.File{Name: "../../var/lib/dpkg/status", Body: status},
			imagetest.File{Name: "a/../../../lib/apk/db/installed", Body: testdata(t, "apk/installed")},
			imagetest.File{Name: "/usr/lib/os-release", Body: testdata(t, "osrelease/debian-12")},
		)
		fsys, s := squash(t, imagetest.Image(t, amd64, l), image.Limits{})
		if len(s.Packages) != 0 {
			t.Errorf("packages from traversing entries: %d", len(s.Packages))
		}
		if len(fsys.Warnings()) != 2 || !strings.Contains(fsys.Warnings()[0], "path traversal") {
			t.Errorf("warnings %q", fsys.Warnings())
		}
		if s.Distro == nil || s.Distro.ID != "debian" {
			t.Errorf("absolute /usr/lib/os-release not read from the image root: %+v", s.Distro)
		}
	})
	t.Run("symlink escapes and loops", func(t *testing.T) {
		// The host has /etc/os-release; the image must never read it.
		l := imagetest.Layer(t,
			imagetest.File{Name: "etc/os-release", Type: '2', Link: "../../../../../../etc/os-release"},
			imagetest.File{Name: "usr/lib/os-release", Type: '2', Link: "/usr/lib/os-release"},
			imagetest.File{Name: "loop/a", Type: '2', Link: "b"},
			imagetest.File{Name: "loop/b", Type: '2', Link: "a"},
			imagetest.File{Name: "loop/a/var/lib/dpkg/status", Body: status},
			imagetest.File{Name: "up", Type: '2', Link: "../../.."},
			imagetest.File{Name: "up/var/lib/dpkg/status", Body: status},
		)
		fsys, s := squash(t, imagetest.Image(t, amd64, l), image.Limits{})
		if s.Distro != nil {
			t.Errorf("distro read through an escaping link: %+v", s.Distro)
		}
		// "up" resolves to the image root, so the status lands at
		// var/lib/dpkg/status inside the image.
		if len(s.Packages) != 15 {
			t.Errorf("%d packages through the clamped link, want 15", len(s.Packages))
		}
		if !strings.Contains(strings.Join(fsys.Warnings(), "\n"), "too many symbolic links") {
			t.Errorf("no warning for the loop: %q", fsys.Warnings())
		}
	})
	t.Run("10 GB sparse file", func(t *testing.T) {
		start := time.Now()
		fsys, s := squash(t, imagetest.Image(t, amd64, imagetest.RawLayer(t, imagetest.Gzip(t, imagetest.SparseTar("usr/bin/big", 10<<30)))), image.Limits{})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v: the sparse file was read", d)
		}
		if len(s.Packages) != 0 || len(fsys.Warnings()) != 1 || !strings.Contains(fsys.Warnings()[0], "usr/bin/big skipped: 10737418240 bytes") {
			t.Errorf("warnings %q", fsys.Warnings())
		}
	})
	bomb := make([]imagetest.File, 0, 500)
	for i := range 500 {
		bomb = append(bomb, imagetest.File{Name: "bomb/" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + "/f", Body: make([]byte, 1024)})
	}
	bombLayer := imagetest.Layer(t, bomb...)
	errTests := []struct {
		name  string
		layer v1.Layer
		lim   image.Limits
		want  string
	}{
		{"entry count", bombLayer, image.Limits{MaxEntries: 100}, "more than 100 tar entries"},
		{"total size", bombLayer, image.Limits{MaxBytes: 64 << 10}, "uncompressed size limit reached"},
		{"corrupt gzip", imagetest.CorruptLayer(bombLayer, append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, []byte("this is not deflate data at all")...)), image.Limits{}, "layer 1 (sha256:"},
		{"truncated tar", imagetest.CorruptLayer(bombLayer, imagetest.Gzip(t, imagetest.Tar(t, imagetest.File{Name: "var/lib/dpkg/status", Body: status})[:700])), image.Limits{}, "unexpected EOF"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := image.Squash(context.Background(), imagetest.Image(t, amd64, tt.layer), &detect.Analyzer{}, tt.lim)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), digest(t, tt.layer)) {
				t.Errorf("error %v does not name the layer %s", err, digest(t, tt.layer))
			}
		})
	}
}
