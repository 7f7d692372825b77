package detect

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/binary"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/sbom"
)

type rpmTag struct {
	tag uint32
	str string
	i32 int32
	num bool
}

// headerBlob encodes an exported rpm header as rpm writes it into
// rpmdb.sqlite: il, dl, the index entries, the data store.
func headerBlob(tags ...rpmTag) []byte {
	var index, data bytes.Buffer
	for _, t := range tags {
		typ := uint32(rpmTypeString)
		if t.num {
			typ = rpmTypeInt32
			for data.Len()%4 != 0 {
				data.WriteByte(0)
			}
		}
		_ = binary.Write(&index, binary.BigEndian, [4]uint32{t.tag, typ, uint32(data.Len()), 1})
		if t.num {
			_ = binary.Write(&data, binary.BigEndian, t.i32)
		} else {
			data.WriteString(t.str)
			data.WriteByte(0)
		}
	}
	var out bytes.Buffer
	_ = binary.Write(&out, binary.BigEndian, [2]uint32{uint32(len(tags)), uint32(data.Len())})
	out.Write(index.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

// AlmaLinux 9 packages (names, versions and source rpms as the
// distribution ships them).
var almaHeaders = [][]byte{
	headerBlob(rpmTag{tag: rpmTagName, str: "bash"}, rpmTag{tag: rpmTagVersion, str: "5.1.8"}, rpmTag{tag: rpmTagRelease, str: "9.el9"},
		rpmTag{tag: rpmTagArch, str: "x86_64"}, rpmTag{tag: rpmTagLicense, str: "GPLv3+"}, rpmTag{tag: rpmTagSourceRPM, str: "bash-5.1.8-9.el9.src.rpm"}),
	headerBlob(rpmTag{tag: rpmTagName, str: "openssl-libs"}, rpmTag{tag: rpmTagEpoch, i32: 1, num: true}, rpmTag{tag: rpmTagVersion, str: "3.0.7"},
		rpmTag{tag: rpmTagRelease, str: "27.el9"}, rpmTag{tag: rpmTagArch, str: "x86_64"}, rpmTag{tag: rpmTagSourceRPM, str: "openssl-3.0.7-27.el9.src.rpm"}),
	headerBlob(rpmTag{tag: rpmTagName, str: "gpg-pubkey"}, rpmTag{tag: rpmTagVersion, str: "b86b3716"}, rpmTag{tag: rpmTagRelease, str: "61e69f29"}),
}

func rpmSqlite(t testing.TB, blobs ...[]byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: p}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRPMSqlite(t *testing.T) {
	pkgs, err := ParseRPMSqlite(bytes.NewReader(rpmSqlite(t, almaHeaders...)), maxRPMDB)
	if err != nil {
		t.Fatal(err)
	}
	want := []sbom.Package{
		{Name: "bash", Version: "5.1.8-9.el9", Ecosystem: sbom.RedHat, Licenses: []string{"GPLv3+"}, PURL: "pkg:rpm/redhat/bash@5.1.8-9.el9?arch=x86_64"},
		{Name: "openssl-libs", Version: "1:3.0.7-27.el9", Ecosystem: sbom.RedHat, SourceName: "openssl", SourceVersion: "1:3.0.7-27.el9", PURL: "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1"},
	}
	if len(pkgs) != len(want) {
		t.Fatalf("got %+v", pkgs)
	}
	for i := range want {
		g, w := pkgs[i], want[i]
		if g.Name != w.Name || g.Version != w.Version || g.SourceName != w.SourceName || g.SourceVersion != w.SourceVersion || g.PURL != w.PURL || len(g.Licenses) != len(w.Licenses) {
			t.Errorf("got %+v, want %+v", g, w)
		}
	}
	bad := []struct {
		name string
		db   []byte
	}{
		{"not sqlite", []byte("SQLite format 3\x00 but not really")},
		{"truncated header", rpmSqlite(t, almaHeaders[0][:20])},
		{"offset out of range", rpmSqlite(t, func() []byte {
			b := append([]byte(nil), almaHeaders[0]...)
			binary.BigEndian.PutUint32(b[8+8:], 1<<30)
			return b
		}())},
	}
	for _, tt := range bad {
		if _, err := ParseRPMSqlite(bytes.NewReader(tt.db), maxRPMDB); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func FuzzParseRPMHeader(f *testing.F) {
	for _, b := range almaHeaders {
		f.Add(b)
	}
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = parseRPMHeader(b)
	})
}

// TestParseRPMNdb reads a real SUSE ndb rpmdb (go-rpmdb's test data,
// SLE 15 BCI) and broken copies of it.
func TestParseRPMNdb(t *testing.T) {
	f, err := os.Open("testdata/rpm/sle15-bci-Packages.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ParseRPMNdb(bytes.NewReader(db), maxRPMDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 30 {
		t.Errorf("%d packages", len(pkgs))
	}
	rl, ok := find(pkgs, "libreadline7")
	if !ok || rl.Version != "7.0-19.6.1" || rl.SourceName != "bash" || rl.SourceVersion != "4.4-19.6.1" || rl.Licenses[0] != "GPL-3.0-or-later" ||
		rl.PURL != "pkg:rpm/redhat/libreadline7@7.0-19.6.1?arch=x86_64" {
		t.Errorf("libreadline7: %+v", rl)
	}
	for name, mutate := range map[string]func([]byte){
		"bad magic":      func(b []byte) { b[0] = 'X' },
		"too many pages": func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 1<<20) },
		"blob off range": func(b []byte) { binary.LittleEndian.PutUint32(b[32+8:], 1<<31) },
		"bad slot magic": func(b []byte) { b[32] = 0 },
		"truncated":      func(b []byte) {},
	} {
		c := append([]byte(nil), db...)
		mutate(c)
		if name == "truncated" {
			c = c[:len(c)/2]
		}
		if _, err := ParseRPMNdb(bytes.NewReader(c), maxRPMDB); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseRPMNdb(f *testing.F) {
	f.Add([]byte("RpmP\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"))
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = ParseRPMNdb(bytes.NewReader(b), 1<<20)
	})
}
