package image_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
)

// archImage is an image for platform p whose os-release PRETTY_NAME names
// the architecture, so a test can tell which one was picked.
func archImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	osr := strings.Replace(string(testdata(t, "osrelease/alpine-3.20")), "Alpine Linux v3.20", "Alpine "+p.Architecture+p.Variant, 1)
	return imagetest.Image(t, p,
		imagetest.Layer(t, imagetest.File{Name: "etc/os-release", Body: []byte(osr)}, imagetest.File{Name: "lib/apk/db/installed", Body: testdata(t, "apk/installed")}),
		imagetest.Layer(t, imagetest.File{Name: "usr/local/bin/gobin", Mode: 0o755, Body: imagetest.GoBinary(t)}),
	)
}

func TestOpenSources(t *testing.T) {
	amd := archImage(t, amd64)
	arm := archImage(t, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	idx := imagetest.Index(t, arm, amd)
	single := imagetest.Index(t, arm)
	tarPath := imagetest.SaveTarball(t, amd)
	layoutDir := imagetest.SaveLayout(t, idx)
	singleDir := imagetest.SaveLayout(t, single)

	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(ref string, f func(name.Reference) error) string {
		r, err := name.ParseReference(host + "/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := f(r); err != nil {
			t.Fatal(err)
		}
		return r.String()
	}
	multiRef := push("app:multi", func(r name.Reference) error { return remote.WriteIndex(r, idx) })
	imgRef := push("app:amd64", func(r name.Reference) error { return remote.Write(r, amd) })
	idxDigest, _ := idx.Digest()
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()

	tests := []struct {
		name, ref, platform string
		kind                image.Kind
		wantPretty          string
		wantDigest          string
		wantErr             string
	}{
		{name: "docker save tarball", ref: tarPath, kind: image.KindTarball, wantPretty: "Alpine amd64"},
		{name: "docker-archive prefix", ref: "docker-archive:" + tarPath, kind: image.KindTarball, wantPretty: "Alpine amd64"},
		{name: "layout default platform", ref: layoutDir, kind: image.KindLayout, wantPretty: "Alpine amd64", wantDigest: amdDigest.String()},
		{name: "layout arm64", ref: "oci-layout:" + layoutDir, platform: "linux/arm64", kind: image.KindLayout, wantPretty: "Alpine arm64v8", wantDigest: armDigest.String()},
		{name: "layout the only image", ref: singleDir, kind: image.KindLayout, wantPretty: "Alpine arm64v8"},
		{name: "layout missing platform", ref: layoutDir, platform: "linux/s390x", wantErr: "no image for platform linux/s390x in the index (it has linux/arm64/v8, linux/amd64)"},
		{name: "registry index default", ref: multiRef, kind: image.KindRegistry, wantPretty: "Alpine amd64", wantDigest: amdDigest.String()},
		{name: "registry index arm64/v8", ref: multiRef, platform: "linux/arm64/v8", kind: image.KindRegistry, wantPretty: "Alpine arm64v8"},
		{name: "registry by digest of the index", ref: host + "/app@" + idxDigest.String(), platform: "linux/arm64", kind: image.KindRegistry, wantPretty: "Alpine arm64v8"},
		{name: "registry image", ref: imgRef, kind: image.KindRegistry, wantPretty: "Alpine amd64", wantDigest: amdDigest.String()},
		{name: "registry image wrong platform", ref: imgRef, platform: "linux/arm64", wantErr: "the image is linux/amd64, not linux/arm64"},
		{name: "registry missing tag", ref: host + "/app:nope", wantErr: "MANIFEST_UNKNOWN"},
		{name: "bad platform", ref: imgRef, platform: "linux", wantErr: "want os/arch"},
		{name: "not a tarball", ref: filepath.Join(layoutDir, "index.json"), wantErr: "docker archive"},
		{name: "not a layout", ref: t.TempDir(), wantErr: "OCI layout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := image.Open(context.Background(), tt.ref, image.SourceOptions{Platform: tt.platform, Keychain: authn.NewMultiKeychain()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if op.Kind != tt.kind || (tt.wantDigest != "" && op.Info.Digest != tt.wantDigest) {
				t.Errorf("kind %s digest %s, want %s %s", op.Kind, op.Info.Digest, tt.kind, tt.wantDigest)
			}
			fsys, err := image.Squash(context.Background(), op.Image, &detect.Analyzer{}, image.Limits{DiffIDs: op.Kind == image.KindTarball})
			if err != nil {
				t.Fatal(err)
			}
			s := detect.Build(fsys, op.Info)
			if s.Distro == nil || s.Distro.PrettyName != tt.wantPretty {
				t.Fatalf("distro %+v, want %s", s.Distro, tt.wantPretty)
			}
			got := byName(s)
			if got["musl"].Version != "1.2.5-r0" || got["stdlib"].Version == "" || got["github.com/package-url/packageurl-go"].Version != "v0.1.7" {
				t.Errorf("packages %+v", s.Packages)
			}
			gb := got["github.com/google/go-containerregistry"]
			if gb.Path != "usr/local/bin/gobin" || !strings.HasPrefix(gb.Layer, "sha256:") || gb.Layer == got["musl"].Layer {
				t.Errorf("go module attribution: %+v", gb)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.tar")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref      string
		kind     image.Kind
		location string
	}{
		{dir, image.KindLayout, dir},
		{file, image.KindTarball, file},
		{"alpine:3.20", image.KindRegistry, "alpine:3.20"},
		{"docker://alpine", image.KindRegistry, "alpine"},
		{"oci-layout:/nowhere", image.KindLayout, "/nowhere"},
		{"docker-archive:/nowhere.tar", image.KindTarball, "/nowhere.tar"},
	}
	for _, tt := range tests {
		if k, l := image.Classify(tt.ref); k != tt.kind || l != tt.location {
			t.Errorf("Classify(%q) = %s %s", tt.ref, k, l)
		}
	}
}
