// Package vulndb is Rampart's offline vulnerability database: OSV records
// (https://ossf.github.io/osv-schema/) imported from a directory of JSON
// files or from osv.dev's per-ecosystem all.zip exports into one local
// SQLite file, and looked up by (ecosystem, package name).
//
// The engine is SQLite through modernc.org/sqlite: pure Go (no cgo, so the
// single static binary stays), one file that can be copied into an
// air-gapped site, B-tree indexes for the lookup, and transactions so an
// interrupted import leaves the previous contents intact. Each record is
// stored once, as DEFLATE-compressed JSON; an index table maps every
// (ecosystem, package name) it affects to it.
package vulndb

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/version"
)

const schema = `
CREATE TABLE IF NOT EXISTS vulns (
	rowid INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	modified TEXT NOT NULL,
	withdrawn INTEGER NOT NULL,
	data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
	base TEXT NOT NULL,
	name TEXT NOT NULL,
	ecosystem TEXT NOT NULL,
	vuln INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected (base, name);
CREATE INDEX IF NOT EXISTS affected_vuln ON affected (vuln);
CREATE TABLE IF NOT EXISTS meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// DB is an open vulnerability database.
type DB struct {
	path string
	db   *sql.DB
}

// DefaultPath is $XDG_CACHE_HOME/rampart/vuln.db, or ~/.cache/rampart/vuln.db.
func DefaultPath() string {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "rampart", "vuln.db")
}

// Open opens the database at path, creating it (and its directory) when
// create is true; otherwise a missing file is an error that says how to
// make one.
func Open(path string, create bool) (*DB, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %w (run `rampart db import PATH` or `rampart db update`)", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	return &DB{path: path, db: db}, nil
}

// Path returns the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// NormalizeName returns the name under which a package is indexed: PyPI
// names are PEP 503-normalised (lower case, runs of -_. as one -), others
// are kept.
func NormalizeName(eco sbom.Ecosystem, name string) string {
	if version.Base(string(eco)) == sbom.PyPI {
		return pep503.ReplaceAllString(strings.ToLower(name), "-")
	}
	return name
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// Lookup returns the records that affect package name in an ecosystem
// whose base (without release suffix) is base. Each is returned once, even
// when it names the package under several releases; the caller filters the
// affected entries by release.
func (d *DB) Lookup(ctx context.Context, base sbom.Ecosystem, name string) ([]*Vulnerability, error) {
	rows, err := d.db.QueryContext(ctx,
		`SELECT DISTINCT v.id, v.data FROM affected a JOIN vulns v ON v.rowid = a.vuln WHERE a.base = ? AND a.name = ? ORDER BY v.id`,
		string(base), NormalizeName(base, name))
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	defer func() { _ = rows.Close() }()
	var out []*Vulnerability
	for rows.Next() {
		var id string
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
		}
		data, err := inflate(blob)
		if err != nil {
			return nil, fmt.Errorf("vulnerability database %s: record %s: %w", d.path, id, err)
		}
		var v Vulnerability
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: record %s: %w", d.path, id, err)
		}
		out = append(out, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	return out, nil
}

// Status describes the database.
type Status struct {
	// Path is the database file.
	Path string `json:"path"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// Imported is when the last import finished; zero if never.
	Imported time.Time `json:"imported"`
	// Sources are the paths or URLs of the imports, newest last.
	Sources []string `json:"sources"`
	// Records is the number of records.
	Records int `json:"records"`
	// Withdrawn is the number of withdrawn records (kept, never matched).
	Withdrawn int `json:"withdrawn"`
	// Ecosystems counts records per base ecosystem.
	Ecosystems map[string]int `json:"ecosystems"`
}

// Age returns how long ago the last import finished, relative to now.
func (s Status) Age(now time.Time) time.Duration {
	if s.Imported.IsZero() {
		return 0
	}
	return now.Sub(s.Imported)
}

// Stale reports whether the database is older than maxAge (or was never
// imported into).
func (s Status) Stale(now time.Time, maxAge time.Duration) bool {
	return s.Imported.IsZero() || s.Age(now) > maxAge
}

// Status reads the database's metadata.
func (d *DB) Status(ctx context.Context) (Status, error) {
	s := Status{Path: d.path, Ecosystems: map[string]int{}}
	if fi, err := os.Stat(d.path); err == nil {
		s.Size = fi.Size()
	}
	meta := map[string]string{}
	rows, err := d.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return s, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return s, fmt.Errorf("vulnerability database %s: %w", d.path, err)
		}
		meta[k] = v
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("vulnerability database %s: %w", d.path, err)
	}
	if t, err := time.Parse(time.RFC3339, meta["imported"]); err == nil {
		s.Imported = t
	}
	for _, key := range []string{"sources", "ecosystems"} {
		if meta[key] == "" {
			continue
		}
		var dst any = &s.Sources
		if key == "ecosystems" {
			dst = &s.Ecosystems
		}
		if err := json.Unmarshal([]byte(meta[key]), dst); err != nil {
			return s, fmt.Errorf("vulnerability database %s: meta %s: %w", d.path, key, err)
		}
	}
	fmt.Sscan(meta["records"], &s.Records)     //nolint:errcheck // absent means 0
	fmt.Sscan(meta["withdrawn"], &s.Withdrawn) //nolint:errcheck // absent means 0
	return s, nil
}

func deflate(buf *bytes.Buffer, w *flate.Writer, data []byte) ([]byte, error) {
	buf.Reset()
	w.Reset(buf)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func inflate(blob []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(blob))
	defer func() { _ = r.Close() }()
	data, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecord {
		return nil, errors.New("record over the size limit")
	}
	return data, nil
}
