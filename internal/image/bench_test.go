package image_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
)

// benchImage is an OCI layout of four layers built from real package
// metadata: Debian 12 with 703 dpkg packages, an npm application (366
// packages in its package-lock.json, node_modules package.json files),
// four copies of a Go binary and a Python package. With
// RAMPART_BENCH_IMAGE_KEEP=DIR the layout is also copied to DIR.
func benchImage(b *testing.B) string {
	b.Helper()
	f, err := os.Open("testdata/bench/dpkg-status.gz")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	status, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	gobin := imagetest.GoBinary(b)
	filler := bytes.Repeat([]byte("not a package database\n"), 4096)
	var files []imagetest.File
	for i := range 2000 { // ordinary files the walk must pass over
		files = append(files, imagetest.File{Name: fmt.Sprintf("usr/share/doc/pkg%d/README", i), Body: filler[:1+i*37%len(filler)]})
	}
	base := imagetest.Layer(b, append(files,
		imagetest.File{Name: "usr/lib/os-release", Body: testdata(b, "osrelease/debian-12")},
		imagetest.File{Name: "etc/os-release", Type: '2', Link: "../usr/lib/os-release"},
		imagetest.File{Name: "var/lib/dpkg/status", Body: status},
	)...)
	npm := imagetest.Layer(b,
		imagetest.File{Name: "srv/app/package-lock.json", Body: testdata(b, "npm/package-lock-v3.json")},
		imagetest.File{Name: "srv/app/node_modules/semver/package.json", Body: testdata(b, "npm/node_modules/semver/package.json")},
		imagetest.File{Name: "srv/app/node_modules/minipass/package.json", Body: testdata(b, "npm/node_modules/minipass/package.json")},
		imagetest.File{Name: "srv/app/node_modules/@npmcli/arborist/package.json", Body: testdata(b, "npm/node_modules/@npmcli/arborist/package.json")},
	)
	var bins []imagetest.File
	for i := range 4 {
		bins = append(bins, imagetest.File{Name: fmt.Sprintf("usr/local/bin/tool%d", i), Mode: 0o755, Body: gobin})
	}
	gol := imagetest.Layer(b, bins...)
	py := imagetest.Layer(b, imagetest.File{Name: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", Body: testdata(b, "python/PyYAML-6.0.METADATA")})
	img := imagetest.Image(b, amd64, base, npm, gol, py)
	dir := imagetest.SaveLayout(b, imagetest.Index(b, img))
	if keep := os.Getenv("RAMPART_BENCH_IMAGE_KEEP"); keep != "" {
		// make bench-image measures the CLI on the same layout.
		if err := os.CopyFS(keep, os.DirFS(dir)); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkSBOM measures `rampart image` without output: open an OCI
// layout, stream and squash its layers, detect and sort the packages.
func BenchmarkSBOM(b *testing.B) {
	dir := benchImage(b)
	ctx := context.Background()
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op, err := image.Open(ctx, dir, image.SourceOptions{})
		if err != nil {
			b.Fatal(err)
		}
		fsys, err := image.Squash(ctx, op.Image, &detect.Analyzer{}, image.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(detect.Build(fsys, op.Info).Packages)
	}
	if n < 400 {
		b.Fatalf("%d packages, want 400 or more", n)
	}
	b.ReportMetric(float64(n), "packages")
}
