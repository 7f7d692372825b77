package detect

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"

	"github.com/rampart-dev/rampart/internal/sbom"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// ParseRPMSqlite reads an rpmdb.sqlite (RHEL, AlmaLinux and Rocky 9,
// Fedora): the header blobs of table Packages, parsed by parseRPMHeader.
// The database is copied to a temporary file (removed on return) and
// opened read-only and immutable.
func ParseRPMSqlite(r io.Reader, limit int64) (pkgs []sbom.Package, err error) {
	path, cleanup, err := tempCopy(r, limit, "rampart-rpmdb-*.sqlite")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := cleanup(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("rpmdb.sqlite: %s", oneline.Err(err))
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query("SELECT blob FROM Packages")
	if err != nil {
		return nil, fmt.Errorf("rpmdb.sqlite: %s", oneline.Err(err))
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return nil, fmt.Errorf("rpmdb.sqlite: %s", oneline.Err(err))
		}
		h, err := parseRPMHeader(blob)
		if err != nil {
			return nil, fmt.Errorf("rpmdb.sqlite: %w", err)
		}
		if p, ok := rpmPackage(h); ok {
			pkgs = append(pkgs, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rpmdb.sqlite: %s", oneline.Err(err))
	}
	return pkgs, nil
}

// rpm header tags and types (rpm lib/rpmtag.h).
const (
	rpmTagName      = 1000
	rpmTagVersion   = 1001
	rpmTagRelease   = 1002
	rpmTagEpoch     = 1003
	rpmTagLicense   = 1014
	rpmTagArch      = 1022
	rpmTagSourceRPM = 1044

	rpmTypeInt32  = 4
	rpmTypeString = 6
)

var errRPMHeader = errors.New("malformed rpm header")

// parseRPMHeader reads an exported rpm header, the form rpmdb.sqlite and
// ndb store: il and dl (big-endian int32: index entries, data bytes), il
// entries of {tag, type, offset, count}, then the data store. Strings are
// NUL-terminated at their offset. Every offset is bounds-checked.
func parseRPMHeader(b []byte) (rpmHeader, error) {
	var h rpmHeader
	if len(b) < 8 {
		return h, errRPMHeader
	}
	il, dl := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
	if il == 0 || il > 0xffff || dl > 256<<20 || uint64(8)+uint64(il)*16+uint64(dl) > uint64(len(b)) {
		return h, errRPMHeader
	}
	data := b[8+il*16 : 8+il*16+dl]
	str := func(off uint32) (string, bool) {
		if off >= uint32(len(data)) {
			return "", false
		}
		for i := off; i < uint32(len(data)); i++ {
			if data[i] == 0 {
				return string(data[off:i]), true
			}
		}
		return "", false
	}
	for i := uint32(0); i < il; i++ {
		e := b[8+i*16 : 8+i*16+16]
		tag, typ := binary.BigEndian.Uint32(e[0:4]), binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		var dst *string
		switch tag {
		case rpmTagName:
			dst = &h.name
		case rpmTagVersion:
			dst = &h.version
		case rpmTagRelease:
			dst = &h.release
		case rpmTagLicense:
			dst = &h.license
		case rpmTagArch:
			dst = &h.arch
		case rpmTagSourceRPM:
			dst = &h.sourceRPM
		case rpmTagEpoch:
			if typ == rpmTypeInt32 && uint64(off)+4 <= uint64(len(data)) {
				h.epoch = int(int32(binary.BigEndian.Uint32(data[off : off+4])))
			}
			continue
		default:
			continue
		}
		if typ != rpmTypeString {
			continue
		}
		s, ok := str(off)
		if !ok {
			return h, errRPMHeader
		}
		*dst = s
	}
	return h, nil
}
