package vuln_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
	"github.com/rampart-dev/rampart/internal/vuln"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

// benchRecords is the size of the benchmark database: at least 100,000
// OSV records.
const benchRecords = 100_000

// replicatedZip writes an osv.dev-style all.zip to dir holding the real
// records of testdata/osv and enough replicas of them to reach
// benchRecords. Replica r > 0 of a record renames its ID, its aliases and
// the package names it affects (suffix "-r<r>"), so that each replica is a
// distinct record indexed under distinct packages: the database grows as a
// real one does (more records, more packages), and a package of the
// benchmark SBOM still finds only the real records that name it. It
// returns the archive's path and its number of records.
func replicatedZip(b *testing.B, dir string) (string, int) {
	b.Helper()
	var originals []map[string]any
	err := filepath.WalkDir("../../testdata/osv", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		originals = append(originals, rec)
		return nil
	})
	if err != nil || len(originals) == 0 {
		b.Fatalf("reading testdata/osv: %d records, %v", len(originals), err)
	}
	path := filepath.Join(dir, "all.zip")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(bufio.NewWriterSize(f, 1<<20))
	n := 0
	for r := 0; n < benchRecords; r++ {
		for _, rec := range originals {
			data, err := json.Marshal(replica(rec, r))
			if err != nil {
				b.Fatal(err)
			}
			w, err := zw.Create(fmt.Sprintf("%s.json", idOf(rec, r)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, n
}

func idOf(rec map[string]any, r int) string {
	id, _ := rec["id"].(string)
	if r == 0 {
		return id
	}
	return id + "-r" + strconv.Itoa(r)
}

// replica returns copy r of rec with renamed ID, aliases and affected
// package names (r == 0 is rec itself).
func replica(rec map[string]any, r int) map[string]any {
	if r == 0 {
		return rec
	}
	suffix := "-r" + strconv.Itoa(r)
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	out["id"] = idOf(rec, r)
	for _, key := range []string{"aliases", "related", "upstream"} {
		if list, ok := rec[key].([]any); ok {
			renamed := make([]any, len(list))
			for i, a := range list {
				s, _ := a.(string)
				renamed[i] = s + suffix
			}
			out[key] = renamed
		}
	}
	if list, ok := rec["affected"].([]any); ok {
		affected := make([]any, len(list))
		for i, a := range list {
			am, ok := a.(map[string]any)
			if !ok {
				affected[i] = a
				continue
			}
			cp := make(map[string]any, len(am))
			for k, v := range am {
				cp[k] = v
			}
			if pkg, ok := am["package"].(map[string]any); ok {
				np := make(map[string]any, len(pkg))
				for k, v := range pkg {
					np[k] = v
				}
				if name, ok := pkg["name"].(string); ok {
					np["name"] = name + suffix
				}
				delete(np, "purl")
				cp["package"] = np
			}
			affected[i] = cp
		}
		out["affected"] = affected
	}
	return out
}

// benchSBOM is the package list of a Debian 12 image with an npm
// application and Go binaries, from real metadata: the 703 packages of a
// real Debian 12 dpkg status (with their source packages), the 366
// packages of a real package-lock.json, the modules this repository
// requires (go.mod) and the modules of an older Go service with the
// versions it shipped (some of which have known vulnerabilities), plus
// lodash 4.17.20 as an application dependency.
func benchSBOM(b *testing.B) *sbom.SBOM {
	b.Helper()
	s := &sbom.SBOM{
		Image:  sbom.Image{Ref: "registry.example.com/bench:1", Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
		Distro: &sbom.Distro{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
	}
	gz, err := os.ReadFile("../image/testdata/bench/dpkg-status.gz")
	if err != nil {
		b.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	dpkg, err := detect.ParseDpkgStatus(zr)
	if err != nil {
		b.Fatal(err)
	}
	lock, err := os.ReadFile("../sbom/detect/testdata/npm/package-lock-v3.json")
	if err != nil {
		b.Fatal(err)
	}
	npm, err := detect.ParsePackageLock(lock)
	if err != nil {
		b.Fatal(err)
	}
	npm = append(npm, sbom.Package{Name: "lodash", Version: "4.17.20", Ecosystem: sbom.Npm, Path: "srv/app/package-lock.json"})
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		b.Fatal(err)
	}
	var gopkgs []sbom.Package
	for _, line := range strings.Split(string(gomod), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && strings.Contains(fields[0], ".") && strings.HasPrefix(fields[1], "v") {
			gopkgs = append(gopkgs, sbom.Package{Name: fields[0], Version: fields[1], Ecosystem: sbom.Go, Path: "usr/local/bin/rampart"})
		}
	}
	for _, m := range [][2]string{
		{"stdlib", "v1.20.4"},
		{"github.com/opencontainers/runc", "v1.1.4"},
		{"golang.org/x/net", "v0.7.0"},
		{"golang.org/x/crypto", "v0.0.0-20220722155217-630584e8d5aa"},
		{"golang.org/x/text", "v0.3.7"},
		{"golang.org/x/sys", "v0.0.0-20220412211240-33da011f77ad"},
		{"golang.org/x/oauth2", "v0.6.0"},
		{"google.golang.org/grpc", "v1.53.0"},
		{"google.golang.org/protobuf", "v1.28.1"},
		{"gopkg.in/yaml.v3", "v3.0.0-20210107192922-496545a6307b"},
		{"github.com/gin-gonic/gin", "v1.9.0"},
		{"github.com/golang-jwt/jwt/v4", "v4.4.2"},
		{"github.com/sirupsen/logrus", "v1.9.0"},
		{"github.com/prometheus/client_golang", "v1.11.0"},
		{"github.com/gorilla/websocket", "v1.4.2"},
	} {
		gopkgs = append(gopkgs, sbom.Package{Name: m[0], Version: m[1], Ecosystem: sbom.Go, Path: "usr/local/bin/legacy-service"})
	}
	if len(dpkg) < 400 || len(npm) < 300 || len(gopkgs) < 100 {
		b.Fatalf("%d dpkg, %d npm, %d Go packages; want the full real lists", len(dpkg), len(npm), len(gopkgs))
	}
	s.Packages = append(append(append(s.Packages, dpkg...), npm...), gopkgs...)
	return s
}

// benchDB opens the benchmark database: the one at
// $RAMPART_BENCH_VULN_DB when that file exists (make bench-vuln imports
// it once in BenchmarkImport), else a fresh import of replicatedZip.
func benchDB(b *testing.B) *vulndb.DB {
	b.Helper()
	path := os.Getenv("RAMPART_BENCH_VULN_DB")
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			db, err := vulndb.Open(path, false)
			if err != nil {
				b.Fatal(err)
			}
			return db
		}
	}
	dir := b.TempDir()
	zipPath, _ := replicatedZip(b, dir)
	db, err := vulndb.Open(filepath.Join(dir, "vuln.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Import(context.Background(), zipPath); err != nil {
		b.Fatal(err)
	}
	return db
}

// reportPeakRSS reports the process's peak resident set size (VmHWM) as a
// metric, on Linux.
func reportPeakRSS(b *testing.B) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err == nil {
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
			}
		}
	}
}

// BenchmarkImport measures `rampart db import` of an all.zip of 100,000+
// OSV records into a fresh database, and reports the import rate. With
// RAMPART_BENCH_VULN_DB set, the last database imported is kept there for
// BenchmarkMatch.
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	zipPath, n := replicatedZip(b, dir)
	ctx := context.Background()
	var last string
	var st vulndb.ImportStats
	i := 0
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		i++
		last = filepath.Join(dir, fmt.Sprintf("vuln-%d.db", i))
		db, err := vulndb.Open(last, true)
		if err != nil {
			b.Fatal(err)
		}
		st, err = db.Import(ctx, zipPath)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if st.Records != n || len(st.Errors) != 0 {
		b.Fatalf("imported %d of %d records, %d errors: %v", st.Records, n, len(st.Errors), st.Errors)
	}
	b.ReportMetric(float64(n), "records")
	b.ReportMetric(float64(n*i)/elapsed.Seconds(), "records/s")
	if fi, err := os.Stat(last); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
	}
	if keep := os.Getenv("RAMPART_BENCH_VULN_DB"); keep != "" {
		if err := os.Rename(last, keep); err != nil {
			b.Fatal(err)
		}
	}
	reportPeakRSS(b)
}

// replicaID matches the IDs replicatedZip gives its copies.
var replicaID = regexp.MustCompile(`-r[0-9]+$`)

// BenchmarkMatch measures matching an image's 1,100+ packages (dpkg, npm,
// Go) against the 100,000-record database, warm: the database is open and
// its pages cached, as in a scan of several images.
func BenchmarkMatch(b *testing.B) {
	db := benchDB(b)
	defer func() { _ = db.Close() }()
	s := benchSBOM(b)
	ctx := context.Background()
	opts := vuln.Options{Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := vuln.MatchContext(ctx, db, s, opts); err != nil { // warm up
		b.Fatal(err)
	}
	var vs []vuln.Vulnerability
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if vs, err = vuln.MatchContext(ctx, db, s, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st, err := db.Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if st.Records < benchRecords {
		b.Fatalf("database holds %d records, want at least %d", st.Records, benchRecords)
	}
	ecos := map[sbom.Ecosystem]int{}
	lodash := false
	for _, v := range vs {
		ecos[v.Package.Ecosystem]++
		if replicaID.MatchString(v.ID) {
			b.Errorf("%s matched %s: a replica must never match a real package", v.ID, v.Package.Name)
		}
		lodash = lodash || v.Package.Name == "lodash" && v.ID == "GHSA-35jh-r3h4-6jhm"
	}
	if !lodash || ecos[sbom.Go] == 0 {
		b.Fatalf("vulnerabilities per ecosystem %v, lodash GHSA-35jh-r3h4-6jhm found: %v; want Go and npm findings", ecos, lodash)
	}
	b.ReportMetric(float64(len(s.Packages)), "packages")
	b.ReportMetric(float64(len(vs)), "vulns")
	reportPeakRSS(b)
}
