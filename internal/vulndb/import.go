package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/version"
)

// Import limits.
const (
	// maxZipMembers bounds the number of members read from one zip.
	maxZipMembers = 4 << 20
	// maxZipTotal bounds the uncompressed bytes read from one zip.
	maxZipTotal = 16 << 30
)

// RecordError is a record that was not imported; the import went on.
type RecordError struct {
	// File is the file (or zip!member) the record came from.
	File string
	// Err says what is wrong.
	Err error
}

func (e RecordError) Error() string { return e.File + ": " + e.Err.Error() }

// ImportStats summarises an import.
type ImportStats struct {
	// Records is the number of records stored (new or updated).
	Records int
	// Unchanged counts records already stored with the same or a newer
	// modified time.
	Unchanged int
	// Errors are the records skipped, one line each.
	Errors []RecordError
	// Duration is how long the import took.
	Duration time.Duration
}

// Rate returns records stored per second.
func (s ImportStats) Rate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Records+s.Unchanged) / s.Duration.Seconds()
}

// Importer adds records to the database inside one transaction: nothing
// is visible until Commit, and Rollback (or a failed Commit) leaves the
// database as it was.
type Importer struct {
	d      *DB
	ctx    context.Context
	tx     *sql.Tx
	upsert *sql.Stmt
	del    *sql.Stmt
	ins    *sql.Stmt
	buf    bytes.Buffer
	zw     *flate.Writer
	source string
	start  time.Time
	stats  ImportStats
}

// BeginImport starts an import; source is recorded in the metadata.
func (d *DB) BeginImport(ctx context.Context, source string) (*Importer, error) {
	if _, err := d.db.ExecContext(ctx, `PRAGMA synchronous=OFF`); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	imp := &Importer{d: d, ctx: ctx, tx: tx, source: source, start: time.Now()}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&imp.upsert, `INSERT INTO vulns (id, modified, withdrawn, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn, data = excluded.data
			WHERE excluded.modified > vulns.modified RETURNING rowid`},
		{&imp.del, `DELETE FROM affected WHERE vuln = ?`},
		{&imp.ins, `INSERT INTO affected (base, name, ecosystem, vuln) VALUES (?, ?, ?, ?)`},
	} {
		if *p.dst, err = tx.PrepareContext(ctx, p.q); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
		}
	}
	imp.zw, _ = flate.NewWriter(&imp.buf, flate.BestSpeed)
	return imp, nil
}

// Add imports one record read from file. A record that does not parse is
// counted in the stats' Errors and skipped; the error returned is only a
// database failure, which ends the import.
func (imp *Importer) Add(file string, data []byte) error {
	return imp.add(file, data, nil)
}

// add is Add with the record's DEFLATE form when the caller has it (the
// raw stream of a deflated zip member, whose checksum reading data has
// verified), which is then stored as it is instead of compressing data
// again.
func (imp *Importer) add(file string, data, deflated []byte) error {
	v, err := ParseRecord(data)
	if err != nil {
		imp.stats.Errors = append(imp.stats.Errors, RecordError{File: file, Err: err})
		return nil
	}
	blob := deflated
	if blob == nil {
		if blob, err = deflate(&imp.buf, imp.zw, data); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	withdrawn := 0
	if v.Withdrawn != "" {
		withdrawn = 1
	}
	var rowid int64
	err = imp.upsert.QueryRowContext(imp.ctx, v.ID, v.Modified, withdrawn, blob).Scan(&rowid)
	if errors.Is(err, sql.ErrNoRows) {
		imp.stats.Unchanged++
		return nil
	}
	if err != nil {
		return fmt.Errorf("vulnerability database %s: record %s from %s: %w", imp.d.path, v.ID, file, err)
	}
	if _, err := imp.del.ExecContext(imp.ctx, rowid); err != nil {
		return fmt.Errorf("vulnerability database %s: %w", imp.d.path, err)
	}
	seen := map[[2]string]bool{}
	for _, a := range v.Affected {
		base := version.Base(a.Package.Ecosystem)
		name := NormalizeName(base, a.Package.Name)
		k := [2]string{a.Package.Ecosystem, name}
		if name == "" || seen[k] {
			continue
		}
		seen[k] = true
		if _, err := imp.ins.ExecContext(imp.ctx, string(base), name, a.Package.Ecosystem, rowid); err != nil {
			return fmt.Errorf("vulnerability database %s: %w", imp.d.path, err)
		}
	}
	imp.stats.Records++
	return nil
}

// Rollback abandons the import.
func (imp *Importer) Rollback() { _ = imp.tx.Rollback() }

// Commit stores the records and updates the metadata (import time,
// sources, counts per ecosystem).
func (imp *Importer) Commit() (ImportStats, error) {
	fail := func(err error) (ImportStats, error) {
		_ = imp.tx.Rollback()
		return imp.stats, fmt.Errorf("vulnerability database %s: %w", imp.d.path, err)
	}
	counts := map[string]int{}
	rows, err := imp.tx.QueryContext(imp.ctx, `SELECT base, COUNT(DISTINCT vuln) FROM affected GROUP BY base`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var b string
		var n int
		if err := rows.Scan(&b, &n); err != nil {
			_ = rows.Close()
			return fail(err)
		}
		counts[b] = n
	}
	_ = rows.Close()
	var records, withdrawn int
	if err := imp.tx.QueryRowContext(imp.ctx, `SELECT COUNT(*), COALESCE(SUM(withdrawn), 0) FROM vulns`).Scan(&records, &withdrawn); err != nil {
		return fail(err)
	}
	var sources []string
	var raw string
	if err := imp.tx.QueryRowContext(imp.ctx, `SELECT value FROM meta WHERE key = 'sources'`).Scan(&raw); err == nil {
		_ = json.Unmarshal([]byte(raw), &sources)
	}
	sources = append(sources, imp.source)
	if len(sources) > 20 {
		sources = sources[len(sources)-20:]
	}
	cj, _ := json.Marshal(counts)
	sj, _ := json.Marshal(sources)
	for k, v := range map[string]string{
		"imported":   time.Now().UTC().Format(time.RFC3339),
		"ecosystems": string(cj),
		"sources":    string(sj),
		"records":    fmt.Sprint(records),
		"withdrawn":  fmt.Sprint(withdrawn),
	} {
		if _, err := imp.tx.ExecContext(imp.ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return fail(err)
		}
	}
	if err := imp.tx.Commit(); err != nil {
		return imp.stats, fmt.Errorf("vulnerability database %s: %w", imp.d.path, err)
	}
	imp.stats.Duration = time.Since(imp.start)
	return imp.stats, nil
}

// Import loads OSV records from path: a directory (every *.json file
// below it, recursively), a zip archive such as osv.dev's all.zip, or a
// single JSON file. Bad records are reported in the stats and skipped.
func (d *DB) Import(ctx context.Context, path string) (ImportStats, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ImportStats{}, fmt.Errorf("import %s: %w", path, err)
	}
	imp, err := d.BeginImport(ctx, path)
	if err != nil {
		return ImportStats{}, err
	}
	switch {
	case fi.IsDir():
		err = imp.addDir(path)
	case strings.EqualFold(filepath.Ext(path), ".zip"):
		err = imp.AddZip(path)
	default:
		err = imp.addFile(path)
	}
	if err != nil {
		imp.Rollback()
		return imp.stats, err
	}
	return imp.Commit()
}

func (imp *Importer) addFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: err})
		return nil
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: err})
		return nil
	}
	return imp.Add(path, data)
}

func (imp *Importer) addDir(root string) error {
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: err})
			return nil
		}
		if err := imp.ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			return imp.addFile(path)
		case ".zip":
			// Inside a directory an unreadable archive is one skipped
			// entry, like an unreadable JSON file.
			zr, err := zip.OpenReader(path)
			if err != nil {
				imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: err})
				return nil
			}
			defer func() { _ = zr.Close() }()
			return imp.addZip(path, &zr.Reader)
		}
		return nil
	})
}

// AddZip imports every *.json member of the zip archive at path, one at a
// time, each capped in size, with a cap on members and total bytes. An
// archive that cannot be opened (missing, not a zip, truncated) is an
// error: there is nothing to import from it.
func (imp *Importer) AddZip(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	defer func() { _ = zr.Close() }()
	return imp.addZip(path, &zr.Reader)
}

func (imp *Importer) addZip(path string, zr *zip.Reader) error {
	if len(zr.File) > maxZipMembers {
		imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: fmt.Errorf("%d members, over the %d limit", len(zr.File), maxZipMembers)})
		return nil
	}
	var total int64
	for _, zf := range zr.File {
		if err := imp.ctx.Err(); err != nil {
			return err
		}
		if zf.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(zf.Name), ".json") {
			continue
		}
		name := path + "!" + zf.Name
		if zf.UncompressedSize64 > maxRecord {
			imp.stats.Errors = append(imp.stats.Errors, RecordError{File: name, Err: fmt.Errorf("%d bytes, over the %d byte limit", zf.UncompressedSize64, maxRecord)})
			continue
		}
		data, err := readMember(zf)
		if err != nil {
			imp.stats.Errors = append(imp.stats.Errors, RecordError{File: name, Err: err})
			continue
		}
		if total += int64(len(data)); total > maxZipTotal {
			imp.stats.Errors = append(imp.stats.Errors, RecordError{File: path, Err: fmt.Errorf("over %d uncompressed bytes, rest skipped", int64(maxZipTotal))})
			return nil
		}
		if err := imp.add(name, data, rawDeflate(zf)); err != nil {
			return err
		}
	}
	return nil
}

// rawDeflate returns the compressed bytes of a deflated zip member (a raw
// DEFLATE stream, the form records are stored in), or nil for another
// method or a read error (the record is then compressed again).
func rawDeflate(zf *zip.File) []byte {
	if zf.Method != zip.Deflate || zf.CompressedSize64 > maxRecord {
		return nil
	}
	r, err := zf.OpenRaw()
	if err != nil {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err != nil || uint64(len(raw)) != zf.CompressedSize64 {
		return nil
	}
	return raw
}

func readMember(zf *zip.File) ([]byte, error) {
	r, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	data, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecord {
		return nil, fmt.Errorf("over the %d byte limit", maxRecord)
	}
	return data, nil
}
