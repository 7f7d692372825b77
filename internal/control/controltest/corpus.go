package controltest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// CorpusDir is the real-world corpus, relative to the module root.
const CorpusDir = "testdata/corpus"

// File is one manifest file read into memory.
type File struct {
	// Name is the file's path relative to the module root.
	Name string
	// Data is the file's content.
	Data []byte
}

// Root returns the module root: the nearest directory at or above the
// working directory (a test's package directory) that holds go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("module root not found: no go.mod above the working directory")
			return ""
		}
		dir = parent
	}
}

// ManifestFiles reads every .yaml, .yml and .json file under dir, a path
// relative to the module root, in lexical order. A missing or unreadable
// directory fails the test: it is part of the repository.
func ManifestFiles(tb testing.TB, dir string) []File {
	tb.Helper()
	root := Root(tb)
	var out []File
	err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, File{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		tb.Fatalf("reading %s: %v", dir, err)
	}
	if len(out) == 0 {
		tb.Fatalf("no manifest files under %s", dir)
	}
	return out
}

// CorpusFiles reads every manifest file of the real-world corpus.
func CorpusFiles(tb testing.TB) []File {
	tb.Helper()
	return ManifestFiles(tb, CorpusDir)
}

// DecodeFiles decodes files with the default limits and returns their
// objects in order, failing the test on any input error.
func DecodeFiles(tb testing.TB, files []File) []*k8s.Object {
	tb.Helper()
	var objs []*k8s.Object
	for _, f := range files {
		errs := load.Decode(load.Unit{File: f.Name}, f.Data, load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) })
		if len(errs) > 0 {
			tb.Fatalf("decoding %s: %v", f.Name, errs)
		}
	}
	return objs
}

// CorpusObjects decodes the real-world corpus into objects.
func CorpusObjects(tb testing.TB) []*k8s.Object {
	tb.Helper()
	return DecodeFiles(tb, CorpusFiles(tb))
}

// BenchmarkFamily runs every control of f on the real-world corpus, decoded
// once beforehand: per-object checks on each object they apply to,
// cross-object checks over an inventory built once, as the engine does.
func BenchmarkFamily(b *testing.B, f Family) {
	b.Helper()
	objs := CorpusObjects(b)
	cs := Controls(b, f)
	var inv *k8s.Inventory
	for _, c := range cs {
		if c.Cross != nil {
			inv = Inventory(objs)
			break
		}
	}
	settings := &control.Settings{}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			if c.Cross != nil {
				c.Cross(&control.CrossContext{Inv: inv, Settings: settings})
				continue
			}
			for _, o := range objs {
				if c.Applies(o) {
					ctx := control.Context{Obj: o, Settings: settings}
					c.Check(&ctx)
				}
			}
		}
	}
}
