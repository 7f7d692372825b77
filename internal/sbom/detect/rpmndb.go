package detect

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ndb layout (rpm lib/backend/ndb/rpmpkg.c), little-endian: a 32-byte
// header {magic "RpmP", version 0, generation, slot page count}, then the
// slot pages (4 KiB each, 16-byte slots {magic "Slot", package index,
// block offset, block count}; the header takes the first two slots), and
// blobs at block offset × 16: {magic "BlbS", package index, checksum,
// length} followed by the exported rpm header.
const (
	ndbHeaderMagic = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic   = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic   = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbPageSize    = 4096
	ndbBlockSize   = 16
	ndbMaxPages    = 2048
)

// ParseRPMNdb reads an ndb rpmdb ("Packages.db", SUSE) in memory, at most
// limit bytes, every offset bounds-checked.
func ParseRPMNdb(r io.Reader, limit int64) ([]sbom.Package, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("rpmdb larger than %d bytes", limit)
	}
	le := binary.LittleEndian
	if len(b) < 32 || le.Uint32(b[0:]) != ndbHeaderMagic || le.Uint32(b[4:]) != 0 {
		return nil, fmt.Errorf("rpmdb Packages.db: not an ndb rpmdb")
	}
	pages := le.Uint32(b[12:])
	if pages == 0 || pages > ndbMaxPages || uint64(pages)*ndbPageSize > uint64(len(b)) {
		return nil, fmt.Errorf("rpmdb Packages.db: %d slot pages in %d bytes", pages, len(b))
	}
	var pkgs []sbom.Package
	for off := uint64(32); off+16 <= uint64(pages)*ndbPageSize; off += 16 {
		slot := b[off : off+16]
		if le.Uint32(slot[0:]) != ndbSlotMagic {
			return nil, fmt.Errorf("rpmdb Packages.db: bad slot at offset %d", off)
		}
		idx, blk := le.Uint32(slot[4:]), uint64(le.Uint32(slot[8:]))
		if idx == 0 {
			continue
		}
		at := blk * ndbBlockSize
		if at+16 > uint64(len(b)) {
			return nil, fmt.Errorf("rpmdb Packages.db: package %d: blob offset %d out of range", idx, at)
		}
		bh := b[at : at+16]
		n := uint64(le.Uint32(bh[12:]))
		if le.Uint32(bh[0:]) != ndbBlobMagic || le.Uint32(bh[4:]) != idx || at+16+n > uint64(len(b)) {
			return nil, fmt.Errorf("rpmdb Packages.db: package %d: bad blob at offset %d", idx, at)
		}
		h, err := parseRPMHeader(b[at+16 : at+16+n])
		if err != nil {
			return nil, fmt.Errorf("rpmdb Packages.db: package %d: %w", idx, err)
		}
		if p, ok := rpmPackage(h); ok {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}
