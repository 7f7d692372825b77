package pss

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// corpusFiles reads every manifest of the real-world corpus.
func corpusFiles(b *testing.B) [][]byte {
	b.Helper()
	var out [][]byte
	root := filepath.Join("..", "..", "..", "..", "testdata", "corpus")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			data, err := os.ReadFile(p)
			out = append(out, data)
			return err
		}
		return nil
	})
	if err != nil {
		b.Skip("corpus unavailable:", err)
	}
	return out
}

// BenchmarkDecodeCorpus is the baseline: decoding the corpus.
func BenchmarkDecodeCorpus(b *testing.B) {
	files := corpusFiles(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			load.Decode(load.Unit{File: "f"}, f, load.DefaultLimits, func(*k8s.Object) {})
		}
	}
}

// BenchmarkControlsCorpus runs every control of the family on every object
// of the corpus, decoded once beforehand.
func BenchmarkControlsCorpus(b *testing.B) {
	files := corpusFiles(b)
	var objs []*k8s.Object
	for _, f := range files {
		load.Decode(load.Unit{File: "f"}, f, load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) })
	}
	cs, err := Controls()
	if err != nil {
		b.Fatal(err)
	}
	settings := &control.Settings{}
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range objs {
			for _, c := range cs {
				if c.Applies(o) {
					ctx := control.Context{Obj: o, Settings: settings}
					c.Check(&ctx)
				}
			}
		}
	}
}
