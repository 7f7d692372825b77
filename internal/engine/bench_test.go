package engine_test

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rampart-dev/rampart/internal/bench"
)

// loadCorpus reads the real-world corpus (testdata/corpus at the module root).
func loadCorpus(b *testing.B) *bench.Corpus {
	b.Helper()
	c, err := bench.LoadCorpus(filepath.Join("..", "..", "testdata", "corpus"))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkScanCorpus scans the corpus with every built-in control and
// framework and writes the JSON report, as `rampart scan -o json` does.
func BenchmarkScanCorpus(b *testing.B) {
	c := loadCorpus(b)
	eng, err := bench.NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(c.Bytes)
	objects := 0
	for b.Loop() {
		res, err := bench.Scan(context.Background(), eng, c, 1, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if res.Summary.Errors > 0 {
			b.Fatalf("%d input errors scanning the corpus", res.Summary.Errors)
		}
		objects += res.Summary.Objects
	}
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/sec")
}

// BenchmarkDecodeCorpus decodes the corpus with load.Decode and the same
// parallelism as a scan, evaluating no controls: the floor a scan is
// compared with.
func BenchmarkDecodeCorpus(b *testing.B) {
	c := loadCorpus(b)
	b.ReportAllocs()
	b.SetBytes(c.Bytes)
	var objects int64
	for b.Loop() {
		n, errs := bench.Decode(context.Background(), c, 1, runtime.GOMAXPROCS(0))
		if errs > 0 {
			b.Fatalf("%d input errors decoding the corpus", errs)
		}
		objects += n
	}
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/sec")
}
