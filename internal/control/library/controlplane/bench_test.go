package controlplane

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// corpusObjects decodes every manifest of the real-world corpus and
// returns the raw files and the objects.
func corpusObjects(b *testing.B) ([][]byte, []*k8s.Object) {
	b.Helper()
	var files [][]byte
	root := filepath.Join("..", "..", "..", "..", "testdata", "corpus")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			data, err := os.ReadFile(p)
			files = append(files, data)
			return err
		}
		return nil
	})
	if err != nil {
		b.Skip("corpus unavailable:", err)
	}
	var objs []*k8s.Object
	for _, f := range files {
		load.Decode(load.Unit{File: "f"}, f, load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) })
	}
	return files, objs
}

// BenchmarkDecodeCorpus is the baseline: decoding the corpus.
func BenchmarkDecodeCorpus(b *testing.B) {
	files, _ := corpusObjects(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			load.Decode(load.Unit{File: "f"}, f, load.DefaultLimits, func(*k8s.Object) {})
		}
	}
}

// BenchmarkControlsCorpus runs every control of the family on the corpus,
// decoded once beforehand (cross-object controls over an inventory built
// once, as the engine does).
func BenchmarkControlsCorpus(b *testing.B) {
	_, objs := corpusObjects(b)
	inv := k8s.NewInventory()
	for _, o := range objs {
		inv.Add(k8s.EntryFor(o))
	}
	cs, err := Controls()
	if err != nil {
		b.Fatal(err)
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
