package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Limits bound what a registry can make the verifier read.
type Limits struct {
	// Response caps every HTTP response body (manifests, referrer
	// indexes, blobs); default 4 MiB.
	Response int64
	// Payload caps one signature payload or bundle; default 1 MiB.
	Payload int64
	// Signatures caps the signature layers of a .sig manifest and the
	// referrers examined per image; default 32.
	Signatures int
}

func (l Limits) withDefaults() Limits {
	if l.Response <= 0 {
		l.Response = 4 << 20
	}
	if l.Payload <= 0 {
		l.Payload = 1 << 20
	}
	if l.Signatures <= 0 {
		l.Signatures = 32
	}
	return l
}

// cappedTransport fails any response whose body is larger than limit.
type cappedTransport struct {
	next  http.RoundTripper
	limit int64
}

func (t *cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s %s: response of %d bytes exceeds the %d-byte limit", req.Method, req.URL.Redacted(), resp.ContentLength, t.limit)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.limit, what: req.Method + " " + req.URL.Redacted(), limit: t.limit}
	return resp, nil
}

type cappedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
	what  string
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body of exactly limit bytes is fine.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%s: response exceeds the %d-byte limit", b.what, b.limit)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// registry reads manifests and small blobs through a capped transport.
type registry struct {
	opts   []remote.Option
	limits Limits
}

func newRegistry(base http.RoundTripper, limits Limits, extra ...remote.Option) *registry {
	if base == nil {
		base = remote.DefaultTransport
	}
	limits = limits.withDefaults()
	opts := append([]remote.Option{remote.WithTransport(&cappedTransport{next: base, limit: limits.Response})}, extra...)
	return &registry{opts: opts, limits: limits}
}

func (r *registry) with(ctx context.Context) []remote.Option {
	return append(append([]remote.Option(nil), r.opts...), remote.WithContext(ctx))
}

// resolve returns the manifest digest ref names (no request for a digest
// reference).
func (r *registry) resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(ref, r.with(ctx)...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return name.Digest{}, fmt.Errorf("%s: not found in the registry", ref)
		}
		// Some registries answer HEAD badly; GET the manifest instead.
		got, gerr := remote.Get(ref, r.with(ctx)...)
		if gerr != nil {
			return name.Digest{}, fmt.Errorf("resolve %s: %w", ref, gerr)
		}
		desc = &got.Descriptor
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// errNotFound is returned when the registry has no such manifest.
var errNotFound = errors.New("not found")

func isNotFound(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// manifest fetches and parses the image manifest at ref.
func (r *registry) manifest(ctx context.Context, ref name.Reference) (*v1.Manifest, error) {
	desc, err := remote.Get(ref, r.with(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, errNotFound
		}
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s: is an index (%s), want an image manifest", ref, desc.MediaType)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return nil, fmt.Errorf("%s: bad manifest: %w", ref, err)
	}
	return m, nil
}

// blob reads one blob of repo, at most limits.Payload bytes, its digest
// checked.
func (r *registry) blob(ctx context.Context, repo name.Repository, d v1.Descriptor) ([]byte, error) {
	where := repo.Digest(d.Digest.String()).String()
	if d.Size > r.limits.Payload {
		return nil, fmt.Errorf("%s: blob of %d bytes exceeds the %d-byte limit", where, d.Size, r.limits.Payload)
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), r.with(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, r.limits.Payload+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if int64(len(b)) > r.limits.Payload {
		return nil, fmt.Errorf("%s: blob exceeds the %d-byte limit", where, r.limits.Payload)
	}
	if h, _, err := v1.SHA256(strings.NewReader(string(b))); err != nil || h != d.Digest {
		return nil, fmt.Errorf("%s: blob content does not match its digest", where)
	}
	return b, nil
}

// emptyMediaType is the OCI empty config descriptor's media type.
const emptyMediaType = "application/vnd.oci.empty.v1+json"

// referrers lists the manifests that name digest as their subject and may
// be of the given artifact type, through the referrers API or its fallback
// tag. Registries that report the config media type instead of the
// manifest's artifactType report the empty type for a cosign bundle, so
// descriptors without a type or with the empty type are kept too; the
// caller checks the manifest itself.
func (r *registry) referrers(ctx context.Context, digest name.Digest, artifactType string) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(digest, r.with(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("referrers of %s: %w", digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", digest, err)
	}
	var out []v1.Descriptor
	for _, m := range im.Manifests {
		switch m.ArtifactType {
		case artifactType, "", emptyMediaType:
			out = append(out, m)
		}
	}
	return out, nil
}
