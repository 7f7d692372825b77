package detect

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom"
)

func read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func find(pkgs []sbom.Package, name string) (sbom.Package, bool) {
	for _, p := range pkgs {
		if p.Name == name {
			return p, true
		}
	}
	return sbom.Package{}, false
}

func TestParseDpkgStatus(t *testing.T) {
	pkgs, err := ParseDpkgStatus(bytes.NewReader(read(t, "testdata/dpkg/status")))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 15 {
		t.Errorf("%d packages, want the 15 installed ones", len(pkgs))
	}
	tests := []struct {
		name, version, srcName, srcVersion, purl string
	}{
		{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64"},
		{"libssl3", "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2", "pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64"},
		{"tzdata", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := find(pkgs, tt.name)
			if !ok {
				t.Fatalf("%s missing", tt.name)
			}
			if tt.version == "" {
				if p.SourceName != "" {
					t.Errorf("source %q, want none (same as the binary)", p.SourceName)
				}
				return
			}
			if p.Version != tt.version || p.SourceName != tt.srcName || p.SourceVersion != tt.srcVersion || p.PURL != tt.purl || p.Ecosystem != sbom.Debian {
				t.Errorf("got %+v", p)
			}
		})
	}
	if _, ok := find(pkgs, "sed"); ok {
		t.Error("sed (deinstall ok config-files) reported")
	}
	// distroless status.d: no Status field, installed.
	d, err := ParseDpkgStatus(bytes.NewReader(read(t, "testdata/dpkg/status.d-tzdata")))
	if err != nil || len(d) != 1 || d[0].Name != "tzdata" {
		t.Errorf("status.d: %v %+v", err, d)
	}
}

func TestParseAPKInstalled(t *testing.T) {
	pkgs, err := ParseAPKInstalled(bytes.NewReader(read(t, "testdata/apk/installed")))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 5 {
		t.Fatalf("%d packages, want 5", len(pkgs))
	}
	p, _ := find(pkgs, "libcrypto3")
	if p.Version != "3.3.2-r0" || p.SourceName != "openssl" || p.SourceVersion != "3.3.2-r0" || p.Licenses[0] != "Apache-2.0" ||
		p.PURL != "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64" {
		t.Errorf("libcrypto3: %+v", p)
	}
	if m, _ := find(pkgs, "musl"); m.SourceName != "" {
		t.Errorf("musl: origin equal to the name kept: %+v", m)
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct{ file, id, version, pretty string }{
		{"debian-12", "debian", "12", "Debian GNU/Linux 12 (bookworm)"},
		{"alpine-3.20", "alpine", "3.20.3", "Alpine Linux v3.20"},
	}
	for _, tt := range tests {
		d, err := ParseOSRelease(bytes.NewReader(read(t, "testdata/osrelease/"+tt.file)))
		if err != nil || d == nil || d.ID != tt.id || d.VersionID != tt.version || d.PrettyName != tt.pretty {
			t.Errorf("%s: %v %+v", tt.file, err, d)
		}
	}
	if d, _ := ParseOSRelease(strings.NewReader("NAME=x\n")); d != nil {
		t.Errorf("no ID: %+v", d)
	}
}

func TestParsePythonMetadata(t *testing.T) {
	tests := []struct{ file, name, version, purl string }{
		{"PyYAML-6.0.METADATA", "PyYAML", "6.0", "pkg:pypi/pyyaml@6.0"},
		{"PyJWT-2.6.0.PKG-INFO", "PyJWT", "2.6.0", "pkg:pypi/pyjwt@2.6.0"},
	}
	for _, tt := range tests {
		p, err := ParsePythonMetadata(bytes.NewReader(read(t, "testdata/python/"+tt.file)))
		if err != nil || p == nil || p.Name != tt.name || p.Version != tt.version || p.PURL != tt.purl || p.Ecosystem != sbom.PyPI || p.Licenses[0] != "MIT" {
			t.Errorf("%s: %v %+v", tt.file, err, p)
		}
	}
}

func TestParseNpm(t *testing.T) {
	pkgs, err := ParsePackageLock(read(t, "testdata/npm/package-lock-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 300 {
		t.Errorf("%d packages from the lock, want every node_modules entry", len(pkgs))
	}
	ts, ok := find(pkgs, "typescript")
	if !ok || ts.Version != "5.0.4" || ts.PURL != "pkg:npm/typescript@5.0.4" {
		t.Errorf("typescript: %+v", ts)
	}
	v1, err := ParsePackageLock([]byte(`{"lockfileVersion":1,"dependencies":{"lodash":{"version":"4.17.20"},"a":{"version":"1.0.0","dependencies":{"lodash":{"version":"4.17.21"}}},"b":{"version":"git+https://x/y.git"}}}`))
	if err != nil || len(v1) != 3 {
		t.Errorf("v1: %v %+v", err, v1)
	}
	p, err := ParsePackageJSON(read(t, "testdata/npm/node_modules/@npmcli/arborist/package.json"))
	if err != nil || p == nil || p.Name != "@npmcli/arborist" || !strings.HasPrefix(p.PURL, "pkg:npm/%40npmcli/arborist@") {
		t.Errorf("arborist: %v %+v", err, p)
	}
}

func zipOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jarFile(t testing.TB, jar, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(read(t, jar)), int64(len(read(t, jar))))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			b, err := readZip(f, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s: no %s", jar, name)
	return nil
}

func TestParseJavaArchive(t *testing.T) {
	gson := read(t, "testdata/java/gson-2.10.1.jar")
	war := zipOf(t, map[string][]byte{
		"WEB-INF/lib/gson-2.10.1.jar":        gson,
		"WEB-INF/lib/annotations-13.0.jar":   read(t, "testdata/java/annotations-13.0.jar"),
		"WEB-INF/lib/gson-manifest-only.jar": zipOf(t, map[string][]byte{"META-INF/MANIFEST.MF": jarFile(t, "testdata/java/gson-2.10.1.jar", "META-INF/MANIFEST.MF")}),
	})
	pkgs, err := ParseJavaArchive(war, "app/app.war")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"com.google.code.gson:gson@2.10.1@app/app.war!/WEB-INF/lib/gson-2.10.1.jar":    "pkg:maven/com.google.code.gson/gson@2.10.1",
		"org.jetbrains:annotations@13.0@app/app.war!/WEB-INF/lib/annotations-13.0.jar": "pkg:maven/org.jetbrains/annotations@13.0",
		// MANIFEST.MF fallback: Bundle-SymbolicName com.google.gson, Bundle-Version 2.10.1.
		"com.google:gson-manifest-only@2.10.1@app/app.war!/WEB-INF/lib/gson-manifest-only.jar": "pkg:maven/com.google/gson-manifest-only@2.10.1",
	}
	got := map[string]string{}
	for _, p := range pkgs {
		got[p.Name+"@"+p.Version+"@"+p.Path] = p.PURL
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: purl %q, want %q (got %v)", k, got[k], v, got)
		}
	}
	if len(pkgs) != len(want) {
		t.Errorf("%d packages, want %d: %v", len(pkgs), len(want), got)
	}
	if _, err := ParseJavaArchive([]byte("not a zip"), "x.jar"); err == nil {
		t.Error("no error for a broken archive")
	}
}

// TestParseGoBinary reads a real Go executable built from
// imagetest/testdata/gobin.
func TestParseGoBinary(t *testing.T) {
	pkgs := ParseGoBinary(imagetest.GoBinary(t))
	std, ok := find(pkgs, "stdlib")
	if !ok || !strings.HasPrefix(std.Version, "v1.") || std.Ecosystem != sbom.Go {
		t.Errorf("stdlib: %+v", std)
	}
	purl, ok := find(pkgs, "github.com/package-url/packageurl-go")
	if !ok || purl.Version != "v0.1.7" || purl.PURL != "pkg:golang/github.com/package-url/packageurl-go@v0.1.7" {
		t.Errorf("packageurl-go: %+v", purl)
	}
	if ParseGoBinary([]byte("\x7fELF not really")) != nil {
		t.Error("packages from a broken binary")
	}
}

func TestGoVersion(t *testing.T) {
	for in, want := range map[string]string{
		"go1.22.3": "v1.22.3", "go1.21": "v1.21.0", "go1.21rc2": "v1.21.0-rc.2", "go1.26.0 X:boringcrypto": "v1.26.0", "devel": "",
	} {
		if got := goVersion(in); got != want {
			t.Errorf("goVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// rpmTestdata is go-rpmdb's own test data (a real CentOS rpmdb), read
// from the module this repository depends on.
func rpmTestdata(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("go list go-rpmdb: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata", name, "Packages")
}

func TestParseRPMDB(t *testing.T) {
	f, err := os.Open(rpmTestdata(t, "centos5-plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParseRPMDB(f, maxRPMDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 50 {
		t.Fatalf("%d packages", len(pkgs))
	}
	b, ok := find(pkgs, "bash")
	if !ok || !strings.HasPrefix(b.Version, "3.2-") || b.Ecosystem != sbom.RedHat || !strings.HasPrefix(b.PURL, "pkg:rpm/redhat/bash@3.2-") {
		t.Errorf("bash: %+v", b)
	}
	if _, err := ParseRPMDB(strings.NewReader("garbage"), maxRPMDB); err == nil {
		t.Error("no error for a broken rpmdb")
	}
	if _, err := ParseRPMDB(f, 10); err == nil {
		t.Error("no error over the size limit")
	}
}

func TestSplitSourceRPM(t *testing.T) {
	for in, want := range map[string][2]string{
		"bash-5.1.8-6.el9.src.rpm":          {"bash", "5.1.8-6.el9"},
		"openssl-libs-3.0.7-27.el9.src.rpm": {"openssl-libs", "3.0.7-27.el9"},
	} {
		n, v, ok := splitSourceRPM(in)
		if !ok || n != want[0] || v != want[1] {
			t.Errorf("%s: %s %s", in, n, v)
		}
	}
	if _, _, ok := splitSourceRPM("nodash"); ok {
		t.Error("nodash split")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		want format
	}{
		{"etc/os-release", 0o644, fmtOSRelease},
		{"var/lib/dpkg/status", 0o644, fmtDpkg},
		{"var/lib/dpkg/status.d/tzdata", 0o644, fmtDpkg},
		{"var/lib/dpkg/status.d/tzdata.md5sums", 0o644, fmtNone},
		{"lib/apk/db/installed", 0o644, fmtAPK},
		{"var/lib/rpm/Packages", 0o644, fmtRPMBDB},
		{"var/lib/rpm/rpmdb.sqlite", 0o644, fmtRPMSqlite},
		{"var/lib/rpm/Packages.db", 0o644, fmtRPMNdb},
		{"app/package-lock.json", 0o644, fmtPackageLock},
		{"app/node_modules/.package-lock.json", 0o644, fmtNone},
		{"app/node_modules/semver/package.json", 0o644, fmtPackageJSON},
		{"app/node_modules/@npmcli/arborist/package.json", 0o644, fmtPackageJSON},
		{"app/node_modules/semver/lib/package.json", 0o644, fmtNone},
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", 0o644, fmtPython},
		{"usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", 0o644, fmtPython},
		{"opt/app.war", 0o644, fmtJava},
		{"usr/bin/app", 0o755, fmtExecutable},
		{"usr/share/doc/README", 0o644, fmtNone},
	}
	for _, tt := range tests {
		if got := classify(tt.name, tt.mode); got != tt.want {
			t.Errorf("classify(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}
