package imagetest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SparseTar returns a tar holding one GNU sparse (PAX format 1.0) file at
// name, executable, whose header size is realSize bytes while the archive
// holds one data byte: a 10 GB file in a few kilobytes.
func SparseTar(name string, realSize int64) []byte {
	var buf bytes.Buffer
	records := ""
	for _, kv := range [][2]string{
		{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(realSize)},
	} {
		records += paxRecord(kv[0], kv[1])
	}
	writeHeader(&buf, "PaxHeaders/sparse", 'x', 0o644, int64(len(records)))
	writePadded(&buf, []byte(records))
	sparseMap := fmt.Sprintf("1\n%d\n1\n", realSize-1)
	mapBlock := make([]byte, 512)
	copy(mapBlock, sparseMap)
	writeHeader(&buf, "GNUSparseFile.0/sparse", '0', 0o755, 512+1)
	writePadded(&buf, append(mapBlock, 'x'))
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

func paxRecord(k, v string) string {
	s := " " + k + "=" + v + "\n"
	n := len(s)
	for {
		l := len(fmt.Sprint(n + len(fmt.Sprint(n))))
		if len(fmt.Sprint(n+l)) == l {
			return fmt.Sprint(n+l) + s
		}
		n++
	}
}

func writePadded(buf *bytes.Buffer, b []byte) {
	buf.Write(b)
	if r := len(b) % 512; r != 0 {
		buf.Write(make([]byte, 512-r))
	}
}

func writeHeader(buf *bytes.Buffer, name string, typ byte, mode, size int64) {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:108], fmt.Sprintf("%07o\x00", mode))
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], "00000000000\x00")
	h[156] = typ
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	for i := 148; i < 156; i++ {
		h[i] = ' '
	}
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	buf.Write(h)
}

// CorruptLayer is like of (same digests, so an image config accepts it)
// but its blob is blob: reading it fails as a corrupt download would.
func CorruptLayer(of v1.Layer, blob []byte) v1.Layer {
	return &corruptLayer{Layer: of, blob: blob}
}

type corruptLayer struct {
	v1.Layer
	blob []byte
}

func (c *corruptLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c.blob)), nil
}

func (c *corruptLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(c.blob))
}
