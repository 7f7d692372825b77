package cli

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var osvTestdata = filepath.Join("..", "..", "testdata", "osv")

// osvCounts reads the OSV JSON files of dirs independently of the
// database: the number of records, how many are withdrawn, and how many
// records name each base ecosystem (the part before the first colon).
func osvCounts(t *testing.T, dirs ...string) (records, withdrawn int, ecos map[string]int, files []string) {
	t.Helper()
	ecos = map[string]int{}
	for _, d := range dirs {
		fs, err := filepath.Glob(filepath.Join(d, "*.json"))
		if err != nil || len(fs) == 0 {
			t.Fatalf("no OSV records in %s: %v", d, err)
		}
		for _, p := range fs {
			var rec struct {
				Withdrawn string `json:"withdrawn"`
				Affected  []struct {
					Package struct{ Ecosystem string } `json:"package"`
				} `json:"affected"`
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			records++
			if rec.Withdrawn != "" {
				withdrawn++
			}
			seen := map[string]bool{}
			for _, a := range rec.Affected {
				base, _, _ := strings.Cut(a.Package.Ecosystem, ":")
				if base != "" && !seen[base] {
					seen[base] = true
					ecos[base]++
				}
			}
			files = append(files, p)
		}
	}
	return records, withdrawn, ecos, files
}

// writeZip writes files into a new zip archive (flat, as osv.dev's
// all.zip is) plus extra members given by name and body.
func writeZip(t *testing.T, path string, files []string, extra map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range extra {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDBImportStatus imports a directory (the Go and Alpine records) and
// an all.zip built here (the npm records and one broken member) into a
// fresh database, then checks `rampart db status` against counts read
// from the files themselves.
func TestDBImportStatus(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "cache", "vuln.db")
	src := filepath.Join(tmp, "osv")
	for _, eco := range []string{"Go", "Alpine"} {
		if err := os.CopyFS(filepath.Join(src, eco), os.DirFS(filepath.Join(osvTestdata, eco))); err != nil {
			t.Fatal(err)
		}
	}
	dirRecords, dirWithdrawn, dirEcos, _ := osvCounts(t, filepath.Join(src, "Go"), filepath.Join(src, "Alpine"))
	npmRecords, npmWithdrawn, npmEcos, npmFiles := osvCounts(t, filepath.Join(osvTestdata, "npm"))
	zipPath := filepath.Join(tmp, "npm-all.zip")
	writeZip(t, zipPath, npmFiles, map[string]string{"GHSA-broken.json": `{"id": "GHSA-xxxx", "affected": [`})

	code, out, errOut := runCLI("db", "--db", db, "import", src)
	if code != 0 || errOut != "" {
		t.Fatalf("import dir: exit %d, stderr %q", code, errOut)
	}
	want := fmt.Sprintf("%s: %d records imported, 0 unchanged, 0 skipped in ", src, dirRecords)
	if !strings.HasPrefix(out, want) || !regexp.MustCompile(`\(\d+ records/s\) into `+regexp.QuoteMeta(db)+"\n$").MatchString(out) {
		t.Errorf("import dir: stdout %q, want %q... (N records/s) into %s", out, want, db)
	}

	code, out, errOut = runCLI("db", "--db", db, "import", zipPath)
	if code != 0 {
		t.Fatalf("import zip: exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("%s: %d records imported, 0 unchanged, 1 skipped", zipPath, npmRecords)) {
		t.Errorf("import zip: stdout %q, want %d records and 1 skipped", out, npmRecords)
	}
	if lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "skipped "+zipPath+"!GHSA-broken.json: ") {
		t.Errorf("import zip: stderr %q, want one skipped line naming the member", errOut)
	}

	// Importing the same directory again stores nothing new.
	code, out, _ = runCLI("db", "--db", db, "import", filepath.Join(src, "Alpine"))
	if code != 0 || !strings.Contains(out, ": 0 records imported, 3 unchanged, 0 skipped") {
		t.Errorf("re-import: exit %d, stdout %q", code, out)
	}

	code, out, errOut = runCLI("db", "--db", db, "status")
	if code != 0 || errOut != "" {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("path:      %s (%d bytes)\n", db, fi.Size()); !strings.HasPrefix(out, want) {
		t.Errorf("status: %q does not start with %q", out, want)
	}
	m := regexp.MustCompile(`(?m)^imported:  (\S+) \((\d+)s ago\)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("status: no imported line with an age in %q", out)
	}
	if at, err := time.Parse(time.RFC3339, m[1]); err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Second {
		t.Errorf("status: imported %q (%v), want within the last minute", m[1], err)
	}
	total, withdrawn := dirRecords+npmRecords, dirWithdrawn+npmWithdrawn
	if want := fmt.Sprintf("\nrecords:   %d (%d withdrawn)\n", total, withdrawn); !strings.Contains(out, want) {
		t.Errorf("status: %q lacks %q", out, want)
	}
	ecos := map[string]int{}
	for _, m := range []map[string]int{dirEcos, npmEcos} {
		for k, v := range m {
			ecos[k] += v
		}
	}
	for eco, n := range ecos {
		if want := fmt.Sprintf("\n  %-12s %d\n", eco, n); !strings.Contains(out, want) {
			t.Errorf("status: %q lacks the line %q", out, want)
		}
	}
	if want := "sources:   " + src + ", " + zipPath + ", " + filepath.Join(src, "Alpine") + "\n"; !strings.HasSuffix(out, want) {
		t.Errorf("status: %q does not end with %q", out, want)
	}

	// Staleness: a fresh database is fine at the default limit and stale
	// past a nanosecond; the warning goes to stderr and does not fail.
	code, _, errOut = runCLI("db", "--db", db, "status", "--max-age", "1ns")
	if code != 0 || !strings.HasPrefix(errOut, "warning: vulnerability database "+db+" is stale (") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("status --max-age 1ns: exit %d, stderr %q; want one stale warning", code, errOut)
	}
}

// TestDBImportEmptyDirectory: importing a directory without records is
// still an import, which dates the database.
func TestDBImportEmptyDirectory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vuln.db")
	empty := t.TempDir()
	if code, _, errOut := runCLI("db", "--db", db, "import", empty); code != 0 {
		t.Fatalf("import of an empty directory: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCLI("db", "--db", db, "status", "--max-age", "87600h")
	if code != 0 || !strings.Contains(out, "\nrecords:   0 (0 withdrawn)\n") {
		t.Errorf("status: exit %d, stdout %q", code, out)
	}
	if strings.Contains(out, "imported:  never") || errOut != "" {
		t.Errorf("status after an empty import: stdout %q, stderr %q", out, errOut)
	}
}

// TestDBErrors: a missing path, a corrupt zip and a missing database are
// one-line errors naming the file, with exit 2.
func TestDBErrors(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "vuln.db")
	corrupt := filepath.Join(tmp, "all.zip")
	if err := os.WriteFile(corrupt, []byte("PK\x03\x04 this is not a zip archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "no-such-dir")
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing path", []string{"db", "--db", db, "import", missing}, "rampart: import " + missing + ": "},
		{"corrupt zip", []string{"db", "--db", db, "import", corrupt}, "rampart: import " + corrupt + ": zip: not a valid zip file"},
		{"missing database", []string{"db", "--db", filepath.Join(tmp, "none.db"), "status"}, "rampart: vulnerability database " + filepath.Join(tmp, "none.db") + ": "},
		{"no path", []string{"db", "--db", db, "import"}, "requires at least 1 arg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, ExitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want %q", errOut, tt.wantErr)
			}
			if strings.HasPrefix(tt.wantErr, "rampart: ") && (strings.Count(errOut, "\n") != 1 || out != "") {
				t.Errorf("stdout %q, stderr %q: want the error as one line and nothing on stdout", out, errOut)
			}
		})
	}
	// The failed imports left a database file with nothing in it: status
	// says it was never imported into, and that makes it stale.
	code, out, errOut := runCLI("db", "--db", db, "status", "--max-age", "87600h")
	if code != 0 || !strings.Contains(out, "\nimported:  never\n") || !strings.Contains(out, "\nrecords:   0 (0 withdrawn)\n") ||
		!strings.HasPrefix(errOut, "warning: vulnerability database "+db+" is stale") {
		t.Errorf("status after failed imports: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
