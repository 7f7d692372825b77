package vulndb

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/sbom"
)

const osvDir = "../../testdata/osv"

func countJSON(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".json") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportDirectory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "vuln.db")
	db, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	st, err := db.Import(ctx, osvDir)
	if err != nil {
		t.Fatal(err)
	}
	want := countJSON(t, osvDir)
	if st.Records != want || len(st.Errors) != 0 {
		t.Fatalf("imported %d records, %v errors; want %d, none", st.Records, st.Errors, want)
	}
	s, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != want || s.Withdrawn != 2 || time.Since(s.Imported) > time.Minute || len(s.Sources) != 1 || s.Sources[0] != osvDir {
		t.Errorf("status = %+v", s)
	}
	// Every record of a folder names its ecosystem; GHSA records may name others too.
	for eco, atLeast := range map[string]int{"Debian": 8, "Alpine": 3, "Go": 162, "npm": 176, "PyPI": 150, "Maven": 154, "AlmaLinux": 6} {
		if s.Ecosystems[eco] < atLeast {
			t.Errorf("ecosystem %s: %d records, want >= %d", eco, s.Ecosystems[eco], atLeast)
		}
	}

	// Lookups: by source package across releases, PEP 503 names.
	vs, err := db.Lookup(ctx, sbom.Debian, "openssl")
	if err != nil || len(vs) != 1 || vs[0].ID != "DLA-3008-1" {
		t.Errorf("Lookup(Debian, openssl) = %v, %v", ids(vs), err)
	}
	vs, err = db.Lookup(ctx, sbom.PyPI, "PyYAML")
	if err != nil || len(vs) != 4 {
		t.Errorf("Lookup(PyPI, PyYAML) = %v, %v; want the 4 pyyaml records", ids(vs), err)
	}
	vs, err = db.Lookup(ctx, sbom.Npm, "no-such-package-here")
	if err != nil || len(vs) != 0 {
		t.Errorf("Lookup(npm, unknown) = %v, %v", ids(vs), err)
	}

	// A second import of the same records changes nothing.
	st, err = db.Import(ctx, filepath.Join(osvDir, "Alpine"))
	if err != nil || st.Records != 0 || st.Unchanged != 3 {
		t.Errorf("re-import: %+v, %v; want 3 unchanged", st, err)
	}
	if s2, _ := db.Status(ctx); s2.Records != want || len(s2.Sources) != 2 {
		t.Errorf("after re-import: %+v", s2)
	}
}

func ids(vs []*Vulnerability) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestImportZip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "all.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	files, _ := filepath.Glob(filepath.Join(osvDir, "Go", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(filepath.Base(p))
		_, _ = w.Write(data)
	}
	for name, body := range map[string]string{
		"broken.json":   `{"id": "GO-BROKEN", "affected": [`,
		"noid.json":     `{"summary": "no id"}`,
		"twoevent.json": `{"id": "X-1", "affected": [{"package": {"ecosystem": "Go", "name": "m"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1.0.0"}]}]}]}`,
		"README.txt":    "not a record",
	} {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	db, err := Open(filepath.Join(dir, "vuln.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	st, err := db.Import(ctx, zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != len(files) || len(st.Errors) != 3 {
		t.Fatalf("zip import: %d records, errors %v; want %d and 3 errors", st.Records, st.Errors, len(files))
	}
	for _, e := range st.Errors {
		if msg := e.Error(); !strings.HasPrefix(msg, zipPath+"!") || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line naming the zip member", msg)
		}
	}
	vs, err := db.Lookup(ctx, sbom.Go, "golang.org/x/net")
	if err != nil || len(vs) < 20 {
		t.Errorf("Lookup(Go, golang.org/x/net) = %d records, %v", len(vs), err)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.db"), false)
	if err == nil || !strings.Contains(err.Error(), "rampart db import") {
		t.Errorf("Open(missing) = %v, want an error that says how to make one", err)
	}
}

func TestStale(t *testing.T) {
	now := time.Date(2026, 8, 30, 0, 0, 0, 0, time.UTC)
	s := Status{Imported: now.Add(-8 * 24 * time.Hour)}
	if !s.Stale(now, 7*24*time.Hour) || s.Stale(now, 9*24*time.Hour) {
		t.Errorf("Stale: 8 days old should be stale at 7 days, not at 9")
	}
	if !(Status{}).Stale(now, time.Hour) {
		t.Error("a never-imported DB should be stale")
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got := DefaultPath(); got != "/x/cache/rampart/vuln.db" {
		t.Errorf("DefaultPath() = %q", got)
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, p := range []string{"Go/GO-2022-0969.json", "Debian/DLA-3008-1.json", "Alpine/CVE-2024-10524.json", "Maven/GHSA-2c3p-9j5f-33g3.json"} {
		if data, err := os.ReadFile(filepath.Join(osvDir, p)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"id":"A","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseRecord(data)
		if err == nil && v.ID == "" {
			t.Fatal("accepted a record without id")
		}
	})
}

// TestImportUnreadableZip: a zip given to Import that cannot be opened is
// an error (nothing was imported, the database is unchanged); the same
// archive inside a directory is one skipped entry.
func TestImportUnreadableZip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notzip.zip":  "this is not a zip archive",
		"trunc.zip":   "PK\x03\x04\x14\x00\x00\x00",
		"record.json": mustRead(t, filepath.Join(osvDir, "Alpine", "CVE-2024-10524.json")),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(filepath.Join(t.TempDir(), "vuln.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, name := range []string{"notzip.zip", "trunc.zip"} {
		p := filepath.Join(dir, name)
		_, err := db.Import(ctx, p)
		if err == nil || !strings.HasPrefix(err.Error(), "import "+p+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Import(%s) = %v, want a one-line error naming the file", name, err)
		}
	}
	if s, _ := db.Status(ctx); s.Records != 0 || !s.Imported.IsZero() {
		t.Errorf("after failed imports: %+v, want an untouched database", s)
	}
	st, err := db.Import(ctx, dir)
	if err != nil || st.Records != 1 || len(st.Errors) != 2 {
		t.Errorf("Import(dir) = %+v, %v; want 1 record and the 2 archives skipped", st, err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportZipMethods: records of deflated zip members are stored as
// their raw DEFLATE stream, stored (uncompressed) members are compressed
// on import; both read back as the original record.
func TestImportZipMethods(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "all.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	members := map[string]uint16{"Alpine/CVE-2024-10524.json": zip.Store, "Debian/DLA-3008-1.json": zip.Deflate}
	for p, method := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.Base(p), Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(mustRead(t, filepath.Join(osvDir, p)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	db, err := Open(filepath.Join(dir, "vuln.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if st, err := db.Import(ctx, zipPath); err != nil || st.Records != 2 || len(st.Errors) != 0 {
		t.Fatalf("Import = %+v, %v", st, err)
	}
	for _, q := range []struct {
		eco       sbom.Ecosystem
		name, id  string
		wantAlias string
	}{
		{sbom.Alpine, "wget", "CVE-2024-10524", ""},
		{sbom.Debian, "openssl", "DLA-3008-1", "CVE-2022-1292"},
	} {
		vs, err := db.Lookup(ctx, q.eco, q.name)
		if err != nil || len(vs) != 1 || vs[0].ID != q.id || (q.wantAlias != "" && !slices.Contains(vs[0].CVEs(), q.wantAlias)) || vs[0].Modified == "" {
			t.Errorf("Lookup(%s, %s) = %v, %v; want %s read back whole", q.eco, q.name, ids(vs), err, q.id)
		}
	}
}
