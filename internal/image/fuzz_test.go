package image_test

import (
	"context"
	"testing"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
)

// FuzzSquash walks an arbitrary layer (plain tar bytes) over a fixed base
// layer: never a panic, a hang or an unbounded read. Seeds: the hostile
// cases of TestSquashHostile and testdata/fuzz/FuzzSquash.
func FuzzSquash(f *testing.F) {
	status := testdata(f, "dpkg/status")
	f.Add(imagetest.SparseTar("usr/bin/big", 10<<30))
	f.Add(imagetest.Tar(f,
		imagetest.File{Name: "../../var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "etc/os-release", Type: '2', Link: "../../../etc/os-release"},
		imagetest.File{Name: "loop/a", Type: '2', Link: "b"},
		imagetest.File{Name: "loop/b", Type: '2', Link: "a"},
		imagetest.File{Name: "loop/a/x/package.json", Body: []byte("{}")},
	))
	f.Add(imagetest.Tar(f,
		imagetest.File{Name: "var/lib/.wh..wh..opq"},
		imagetest.File{Name: "var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "usr/.wh.lib"},
		imagetest.File{Name: "usr/lib/os-release", Type: '1', Link: "etc/os-release"},
	))
	base := imagetest.Layer(f,
		imagetest.File{Name: "etc/os-release", Body: testdata(f, "osrelease/debian-12")},
		imagetest.File{Name: "var/lib/dpkg/status", Body: status},
		imagetest.File{Name: "usr/lib/node_modules/semver/package.json", Body: testdata(f, "npm/node_modules/semver/package.json")},
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		img := imagetest.Image(t, amd64, base, imagetest.RawLayer(t, b))
		fsys, err := image.Squash(context.Background(), img, &detect.Analyzer{}, image.Limits{MaxFileSize: 1 << 20, MaxEntries: 1000, MaxBytes: 16 << 20})
		if err != nil {
			return
		}
		_ = detect.Build(fsys, img2info())
	})
}

func img2info() sbom.Image { return sbom.Image{Ref: "fuzz"} }
