// Package image opens container images (registry references, docker save
// tarballs, OCI image layouts, multi-arch indexes) and reads their layers
// as one squashed filesystem, streaming, for package detection.
package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-dev/rampart/internal/sbom"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// Kind is the form of an image reference.
type Kind string

// Kinds of image sources.
const (
	KindRegistry Kind = "registry"
	KindTarball  Kind = "docker-archive"
	KindLayout   Kind = "oci-layout"
)

// DefaultPlatform is chosen from a multi-arch index when no platform is
// given and the index holds more than one image.
const DefaultPlatform = "linux/amd64"

// SourceOptions say how to open an image.
type SourceOptions struct {
	// Platform is os/arch[/variant]; empty means DefaultPlatform, or the
	// only image of an index.
	Platform string
	// Keychain resolves registry credentials; nil means
	// authn.DefaultKeychain (docker config and credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport for registries; nil means the
	// default.
	Transport http.RoundTripper
}

// Opened is an image ready to be squashed.
type Opened struct {
	// Image is the selected image (one platform).
	Image v1.Image
	// Info identifies it in the SBOM.
	Info sbom.Image
	// Kind is the form the reference had.
	Kind Kind
}

// Classify says which form ref has: an explicit "docker-archive:" or
// "oci-layout:" prefix, else a directory holding index.json (OCI layout),
// else an existing file (docker save tarball), else a registry reference.
// It returns the reference without its prefix.
func Classify(ref string) (Kind, string) {
	if p, ok := strings.CutPrefix(ref, "docker-archive:"); ok {
		return KindTarball, p
	}
	if p, ok := strings.CutPrefix(ref, "oci-layout:"); ok {
		return KindLayout, p
	}
	if p, ok := strings.CutPrefix(ref, "docker://"); ok {
		return KindRegistry, p
	}
	if st, err := os.Stat(ref); err == nil {
		if st.IsDir() {
			return KindLayout, ref
		}
		return KindTarball, ref
	}
	return KindRegistry, ref
}

// Open resolves ref to one image of one platform.
func Open(ctx context.Context, ref string, o SourceOptions) (*Opened, error) {
	want, explicit, err := parsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	kind, loc := Classify(ref)
	op := &Opened{Kind: kind, Info: sbom.Image{Ref: ref}}
	switch kind {
	case KindTarball:
		img, err := tarball.ImageFromPath(loc, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: docker archive: %s", loc, oneline.Err(err))
		}
		op.Image = img
	case KindLayout:
		idx, err := layout.ImageIndexFromPath(loc)
		if err != nil {
			return nil, fmt.Errorf("%s: OCI layout: %s", loc, oneline.Err(err))
		}
		img, err := selectImage(idx, want, explicit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", loc, err)
		}
		op.Image = img
	default:
		r, err := name.ParseReference(loc)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a file, a directory nor an image reference: %s", ref, oneline.Err(err))
		}
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithUserAgent("rampart")}
		if o.Transport != nil {
			opts = append(opts, remote.WithTransport(o.Transport))
		}
		desc, err := remote.Get(r, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", r, oneline.Err(err))
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				return nil, fmt.Errorf("%s: %s", r, oneline.Err(err))
			}
			img, err := selectImage(idx, want, explicit)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r, err)
			}
			op.Image = img
		} else {
			img, err := desc.Image()
			if err != nil {
				return nil, fmt.Errorf("%s: %s", r, oneline.Err(err))
			}
			op.Image = img
		}
	}
	cf, err := op.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: image config: %s", ref, oneline.Err(err))
	}
	op.Info.Platform = platformString(cf.OS, cf.Architecture, cf.Variant)
	if explicit && !platformMatches(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}, want) {
		return nil, fmt.Errorf("%s: the image is %s, not %s", ref, op.Info.Platform, o.Platform)
	}
	if kind != KindTarball {
		// Cheap for registries and layouts: the manifest is in hand. A
		// docker save tarball has no manifest digest without hashing every
		// layer, so it has none.
		d, err := op.Image.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: manifest digest: %s", ref, oneline.Err(err))
		}
		op.Info.Digest = d.String()
	}
	return op, nil
}

func parsePlatform(s string) (v1.Platform, bool, error) {
	explicit := s != ""
	if s == "" {
		s = DefaultPlatform
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, false, fmt.Errorf("--platform %q: want os/arch[/variant]", s)
	}
	return *p, explicit, nil
}

func platformString(os, arch, variant string) string {
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

func platformMatches(got, want v1.Platform) bool {
	if got.OS != want.OS || got.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || got.Variant == want.Variant
}

// selectImage picks the image for want from an index (nested indexes
// included). Without an explicit platform, an index holding a single image
// gives that image.
func selectImage(idx v1.ImageIndex, want v1.Platform, explicit bool) (v1.Image, error) {
	var all []candidate
	if err := collect(idx, &all, 0); err != nil {
		return nil, err
	}
	var platforms []string
	for _, c := range all {
		if c.platform != nil && platformMatches(*c.platform, want) {
			return c.idx.Image(c.digest)
		}
		if c.platform != nil {
			platforms = append(platforms, platformString(c.platform.OS, c.platform.Architecture, c.platform.Variant))
		}
	}
	if len(all) == 1 && (!explicit || all[0].platform == nil) {
		return all[0].idx.Image(all[0].digest)
	}
	if len(all) == 0 {
		return nil, errors.New("the index holds no image")
	}
	return nil, fmt.Errorf("no image for platform %s in the index (it has %s)", platformString(want.OS, want.Architecture, want.Variant), strings.Join(platforms, ", "))
}

type candidate struct {
	idx      v1.ImageIndex
	digest   v1.Hash
	platform *v1.Platform
}

func collect(idx v1.ImageIndex, out *[]candidate, depth int) error {
	if depth > 4 {
		return errors.New("image indexes nested too deep")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("index manifest: %s", oneline.Err(err))
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return fmt.Errorf("index %s: %s", d.Digest, oneline.Err(err))
			}
			if err := collect(child, out, depth+1); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			if d.Platform != nil && d.Platform.OS == "unknown" {
				continue // attestation manifests
			}
			*out = append(*out, candidate{idx: idx, digest: d.Digest, platform: d.Platform})
		}
	}
	return nil
}
