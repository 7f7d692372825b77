package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seeds(f *testing.F, files ...string) {
	for _, p := range files {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// The parsers take untrusted image content: no panic, no hang, on
// anything. Seeds are the real test data plus testdata/fuzz/<Name>.

func FuzzParseDpkgStatus(f *testing.F) {
	seeds(f, "dpkg/status", "dpkg/status.d-tzdata")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseDpkgStatus(bytes.NewReader(b))
		for _, p := range pkgs {
			if err != nil || p.Name == "" || p.Version == "" {
				t.Fatalf("bad package %+v (%v)", p, err)
			}
		}
	})
}

func FuzzParseAPKInstalled(f *testing.F) {
	seeds(f, "apk/installed")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseAPKInstalled(bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

func FuzzParseOSRelease(f *testing.F) {
	seeds(f, "osrelease/debian-12", "osrelease/alpine-3.20")
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseOSRelease(bytes.NewReader(b)); err == nil && d != nil && d.ID == "" {
			t.Fatal("distro without ID")
		}
	})
}

func FuzzParsePythonMetadata(f *testing.F) {
	seeds(f, "python/PyYAML-6.0.METADATA", "python/PyJWT-2.6.0.PKG-INFO")
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = ParsePythonMetadata(bytes.NewReader(b))
	})
}

func FuzzParsePackageLock(f *testing.F) {
	seeds(f, "npm/package-lock-v3.json")
	f.Add([]byte(`{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}`))
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = ParsePackageLock(b)
		_, _ = ParsePackageJSON(b)
	})
}

func FuzzParseJavaArchive(f *testing.F) {
	seeds(f, "java/annotations-13.0.jar")
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = ParseJavaArchive(b, "x.jar")
	})
}

func FuzzParseGoBinary(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"))
	f.Fuzz(func(_ *testing.T, b []byte) {
		_ = ParseGoBinary(b)
	})
}

func FuzzParseRPMDB(f *testing.F) {
	// The first page of a real Berkeley DB rpmdb (go-rpmdb's CentOS 5 test
	// data): enough for the metadata page checks.
	if p, err := os.Open(rpmTestdata(f, "centos5-plain")); err == nil {
		head := make([]byte, 4096)
		if _, err := p.Read(head); err == nil {
			f.Add(head)
		}
		_ = p.Close()
	}
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = ParseRPMDB(bytes.NewReader(b), 1<<20)
	})
}
