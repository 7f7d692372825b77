package image_test

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
)

// TestSquashMutations walks 1,500 deterministic random mutations of the
// hostile seeds, each within 3 s: a mutated tar never hangs the walk.
func TestSquashMutations(t *testing.T) {
	status := testdata(t, "dpkg/status")
	seeds := [][]byte{imagetest.SparseTar("usr/bin/big", 10<<30), imagetest.Tar(t,
		imagetest.File{Name: "../../var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "etc/os-release", Type: '2', Link: "../../../etc/os-release"},
		imagetest.File{Name: "loop/a", Type: '2', Link: "b"},
		imagetest.File{Name: "loop/b", Type: '2', Link: "a"},
		imagetest.File{Name: "loop/a/x/package.json", Body: []byte("{}")},
	), imagetest.Tar(t,
		imagetest.File{Name: "var/lib/.wh..wh..opq"},
		imagetest.File{Name: "var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "usr/.wh.lib"},
		imagetest.File{Name: "usr/lib/os-release", Type: '1', Link: "etc/os-release"},
	)}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1500; i++ {
		seed := seeds[i%3]
		b := append([]byte(nil), seed...)
		for j := 0; j < 1+r.Intn(4); j++ {
			b[r.Intn(len(b))] = byte(r.Intn(256))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			img := imagetest.Image(t, amd64, imagetest.RawLayer(t, b))
			_, _ = image.Squash(context.Background(), img, &detect.Analyzer{}, image.Limits{MaxFileSize: 1 << 20, MaxEntries: 1000, MaxBytes: 16 << 20})
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("mutation %d did not finish in 3 s: %q", i, b)
		}
	}
}
