// Package sign verifies cosign signatures of container images with
// sigstore-go, offline: against public keys, or (keyless) against
// certificate identities and a trusted root read from a file.
//
// An image reference is resolved to its manifest digest once; signatures
// are then looked up for that digest only, in both places cosign puts them:
//
//   - the legacy tag <repo>:sha256-<hex>.sig, an image whose layers are
//     simple-signing payloads signed in the dev.cosignproject.cosign/signature
//     annotation (with dev.sigstore.cosign/certificate and chain when
//     keyless);
//   - Sigstore bundles (v0.3, a DSSE envelope over an in-toto statement
//     whose subject is the digest) attached as OCI referrers of the digest,
//     found through the referrers API or its fallback tag sha256-<hex>.
//
// Each signature binds a digest: a payload or statement naming another
// digest than the image's is invalid whoever signed it, so a signature
// copied next to a retagged image never verifies it.
//
// Verifier is safe for concurrent use and meant to be shared (admission):
// results are cached by repository and digest (bounded LRU with a TTL) and
// concurrent verifications of one digest are coalesced into one.
package sign

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/sync/singleflight"

	"github.com/rampart-dev/rampart/internal/oneline"
)

var timeZero time.Time

// Status is the outcome of verifying an image or one of its signatures.
type Status string

// Statuses, best first.
const (
	// Verified: a signature verified under the policy.
	Verified Status = "verified"
	// OtherSigner: a well-formed signature of this digest that was made with
	// another key, or by another certificate identity.
	OtherSigner Status = "other-signer"
	// Invalid: a signature naming another digest, a malformed signature,
	// or a certificate that does not chain to the trusted root.
	Invalid Status = "invalid"
	// Missing: no signature of the digest.
	Missing Status = "missing"
)

func rank(s Status) int {
	switch s {
	case Verified:
		return 3
	case OtherSigner:
		return 2
	case Invalid:
		return 1
	}
	return 0
}

// Signature is one signature found for a digest.
type Signature struct {
	// Kind is "tag" (the .sig tag scheme) or "referrer" (a Sigstore bundle).
	Kind string
	// Location names it: repo:sha256-<hex>.sig#<layer digest>, or
	// repo@<referrer manifest digest>.
	Location string
	// Status is this signature's outcome.
	Status Status
	// Signer is who signed it when known: "key sha256:<fingerprint>" or
	// "<SAN> (issuer <OIDC issuer>)".
	Signer string
	// Reason says why it did not verify.
	Reason string
}

// Result is the verification of one image.
type Result struct {
	// Ref is the reference as given.
	Ref string
	// Digest is the manifest digest the reference resolved to.
	Digest string
	// Status is the best status over Signatures (Missing when none).
	Status Status
	// Signer and Location are those of the deciding signature.
	Signer   string
	Location string
	// Reason explains a status other than Verified.
	Reason string
	// Signatures lists every signature examined.
	Signatures []Signature
}

// Summary is one line for humans.
func (r *Result) Summary() string {
	img := r.Ref
	if r.Digest != "" && !strings.Contains(r.Ref, "@") {
		img += "@" + r.Digest
	}
	switch r.Status {
	case Verified:
		return fmt.Sprintf("%s: verified, signed by %s (%s)", img, r.Signer, r.Location)
	case Missing:
		return fmt.Sprintf("%s: not signed (%s)", img, r.Reason)
	default:
		loc := ""
		if r.Location != "" {
			loc = " (" + r.Location + ")"
		}
		return fmt.Sprintf("%s: %s: %s%s", img, r.Status, r.Reason, loc)
	}
}

// Config configures a Verifier.
type Config struct {
	// Policy says which signatures are trusted.
	Policy Policy
	// Transport is the HTTP transport (default remote.DefaultTransport).
	Transport http.RoundTripper
	// RemoteOptions are extra go-containerregistry options, such as
	// remote.WithAuthFromKeychain(authn.DefaultKeychain).
	RemoteOptions []remote.Option
	// Limits bound registry answers.
	Limits Limits
	// CacheSize is the number of digests whose result is kept (default
	// 1024; negative disables the cache).
	CacheSize int
	// CacheTTL is how long a result is reused (default 5 minutes).
	CacheTTL time.Duration
	// Timeout bounds one verification of a digest (default 30 s); it does
	// not depend on the context of the caller that started it, since
	// coalesced callers share it.
	Timeout time.Duration
	// Now is the clock of the cache (default time.Now).
	Now func() time.Time
}

// Verifier verifies image signatures; safe for concurrent use.
type Verifier struct {
	eng     *engine
	reg     *registry
	cache   *lru
	group   singleflight.Group
	timeout time.Duration
}

// New compiles cfg's policy.
func New(cfg Config) (*Verifier, error) {
	eng, err := compile(cfg.Policy)
	if err != nil {
		return nil, err
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 1024
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{eng: eng, reg: newRegistry(cfg.Transport, cfg.Limits, cfg.RemoteOptions...), timeout: cfg.Timeout}
	if cfg.CacheSize > 0 {
		v.cache = newLRU(cfg.CacheSize, cfg.CacheTTL, cfg.Now)
	}
	return v, nil
}

// Resolve returns the digest reference ref names: no request when ref is
// already a digest, one HEAD (or GET) otherwise. Admission resolves each
// distinct tag of a request once and verifies the digests.
func (v *Verifier) Resolve(ctx context.Context, ref string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: %w", ref, err)
	}
	d, err := v.reg.resolve(ctx, r)
	return d, flat(err)
}

// Verify resolves ref once and verifies the signatures of its digest. An
// error means the outcome could not be decided (bad reference, registry
// unreachable or answering beyond its limits); a Result says verified,
// missing, invalid or other-signer.
func (v *Verifier) Verify(ctx context.Context, ref string) (*Result, error) {
	d, err := v.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	res, err := v.VerifyDigest(ctx, d)
	if err != nil {
		return nil, err
	}
	out := *res
	out.Ref = ref
	return &out, nil
}

// VerifyDigest verifies the signatures of d, from the cache when a result
// for d is fresh, coalesced with any verification of d under way.
func (v *Verifier) VerifyDigest(ctx context.Context, d name.Digest) (*Result, error) {
	key := d.Context().Name() + "@" + d.DigestStr()
	if v.cache != nil {
		if r, ok := v.cache.get(key); ok {
			return r, nil
		}
	}
	ch := v.group.DoChan(key, func() (any, error) {
		if v.cache != nil {
			if r, ok := v.cache.get(key); ok {
				return r, nil
			}
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
		defer cancel()
		r, err := v.verifyDigest(cctx, d)
		if err != nil {
			return nil, flat(err)
		}
		if v.cache != nil {
			v.cache.put(key, r)
		}
		return r, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("verify %s: %w", d, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Result), nil
	}
}

func (v *Verifier) verifyDigest(ctx context.Context, d name.Digest) (*Result, error) {
	res := &Result{Ref: d.String(), Digest: d.DigestStr()}
	hash, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	legacy, err := v.legacySignatures(ctx, d, hash)
	if err != nil {
		return nil, err
	}
	bundles, err := v.bundleSignatures(ctx, d, hash)
	if err != nil {
		return nil, err
	}
	res.Signatures = append(legacy, bundles...)
	res.Status = Missing
	res.Reason = fmt.Sprintf("no %s.sig tag and no Sigstore bundle referrer", tagFor(hash))
	for i, s := range res.Signatures {
		if i == 0 || rank(s.Status) > rank(res.Status) {
			res.Status, res.Signer, res.Location, res.Reason = s.Status, s.Signer, s.Location, s.Reason
		}
	}
	return res, nil
}

func tagFor(h v1.Hash) string { return h.Algorithm + "-" + h.Hex }

// legacySignatures checks the layers of the <alg>-<hex>.sig image.
func (v *Verifier) legacySignatures(ctx context.Context, d name.Digest, h v1.Hash) ([]Signature, error) {
	repo := d.Context()
	tag := repo.Tag(tagFor(h) + ".sig")
	m, err := v.reg.manifest(ctx, tag)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Signature
	for i, l := range m.Layers {
		loc := tag.String() + "#" + l.Digest.String()
		if i >= v.reg.limits.Signatures {
			out = append(out, Signature{Kind: "tag", Location: tag.String(), Status: Invalid,
				Reason: fmt.Sprintf("more than %d signature layers; the rest were not read", v.reg.limits.Signatures)})
			break
		}
		s := Signature{Kind: "tag", Location: loc}
		s.Status, s.Signer, s.Reason = v.checkLegacy(ctx, repo, h, l)
		out = append(out, s)
	}
	return out, nil
}

func (v *Verifier) checkLegacy(ctx context.Context, repo name.Repository, h v1.Hash, l v1.Descriptor) (Status, string, string) {
	sigB64, ok := l.Annotations[AnnotationSignature]
	if !ok {
		return Invalid, "", "layer has no " + AnnotationSignature + " annotation"
	}
	sig, err := decodeSignature(sigB64)
	if err != nil {
		return Invalid, "", err.Error()
	}
	payload, err := v.reg.blob(ctx, repo, l)
	if err != nil {
		return Invalid, "", err.Error()
	}
	signed, err := parseSimpleSigning(payload)
	if err != nil {
		return Invalid, "", err.Error()
	}
	if signed != h.String() {
		return Invalid, "", fmt.Sprintf("signed payload names %s, not the image digest %s", signed, h)
	}
	sum, _, _ := v1.SHA256(bytes.NewReader(payload))
	digest, _ := hex.DecodeString(sum.Hex)
	pb := &protobundle.Bundle{
		MediaType: BundleArtifactType,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
			Signature:     sig,
		}},
	}
	artifact := func() verify.ArtifactPolicyOption { return verify.WithArtifact(bytes.NewReader(payload)) }
	if len(v.eng.keys) > 0 {
		// As cosign --key: the key alone decides; a certificate is ignored.
		pb.VerificationMaterial = &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}}
		return v.eng.check(pb, artifact)
	}
	certPEM, ok := l.Annotations[AnnotationCertificate]
	if !ok {
		return OtherSigner, "", "signed with a key, not a certificate; a certificate identity was expected"
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		return Invalid, "", "certificate annotation is not a PEM certificate"
	}
	pb.VerificationMaterial = &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_Certificate{
		Certificate: &protocommon.X509Certificate{RawBytes: certs[0].Raw}}}
	return v.eng.check(pb, artifact)
}

// bundleSignatures checks the Sigstore bundles attached as referrers.
func (v *Verifier) bundleSignatures(ctx context.Context, d name.Digest, h v1.Hash) ([]Signature, error) {
	refs, err := v.reg.referrers(ctx, d, BundleArtifactType)
	if err != nil {
		return nil, err
	}
	repo := d.Context()
	var out []Signature
	for i, desc := range refs {
		loc := repo.Digest(desc.Digest.String()).String()
		if i >= v.reg.limits.Signatures {
			out = append(out, Signature{Kind: "referrer", Location: repo.String(), Status: Invalid,
				Reason: fmt.Sprintf("more than %d bundle referrers; the rest were not read", v.reg.limits.Signatures)})
			break
		}
		s := Signature{Kind: "referrer", Location: loc}
		s.Status, s.Signer, s.Reason = v.checkReferrer(ctx, repo, h, desc)
		if s.Status == "" { // not a signature: another artifact or predicate
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func (v *Verifier) checkReferrer(ctx context.Context, repo name.Repository, h v1.Hash, desc v1.Descriptor) (Status, string, string) {
	ref := repo.Digest(desc.Digest.String())
	m, err := v.reg.manifest(ctx, ref)
	if err != nil {
		return Invalid, "", err.Error()
	}
	if m.Subject == nil || m.Subject.Digest != h {
		return Invalid, "", "referrer manifest's subject is not the image digest"
	}
	if m.ArtifactType != BundleArtifactType && string(m.Config.MediaType) != BundleArtifactType &&
		(len(m.Layers) == 0 || !strings.HasPrefix(string(m.Layers[0].MediaType), "application/vnd.dev.sigstore.bundle")) {
		return "", "", "" // another kind of referrer
	}
	if len(m.Layers) != 1 {
		return Invalid, "", fmt.Sprintf("bundle manifest has %d layers, want 1", len(m.Layers))
	}
	raw, err := v.reg.blob(ctx, repo, m.Layers[0])
	if err != nil {
		return Invalid, "", err.Error()
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return Invalid, "", "bundle: " + oneline.Err(err)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return Invalid, "", "bundle holds a message signature, which does not bind the image digest; want a DSSE in-toto statement"
	}
	subjects, predicate, err := parseStatement(env.GetPayload())
	if err != nil {
		return Invalid, "", err.Error()
	}
	if predicate != CosignSignPredicate {
		return "", "", "" // an attestation (SBOM, provenance…), not a signature
	}
	found := false
	for _, s := range subjects {
		found = found || s == h.String()
	}
	if !found {
		return Invalid, "", fmt.Sprintf("signed statement names %s, not the image digest %s", strings.Join(subjects, ", "), h)
	}
	digest, _ := hex.DecodeString(h.Hex)
	return v.eng.check(b.Bundle, func() verify.ArtifactPolicyOption { return verify.WithArtifactDigest("sha256", digest) })
}

// check verifies a bundle under the policy.
func (e *engine) check(pb *protobundle.Bundle, artifact func() verify.ArtifactPolicyOption) (Status, string, string) {
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return Invalid, "", "bundle: " + oneline.Err(err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return Invalid, "", oneline.Err(err)
	}
	leaf := vc.Certificate()
	if len(e.keys) > 0 {
		if leaf != nil {
			return OtherSigner, certSigner(leaf), "signed with a certificate; a key was expected"
		}
		var names []string
		for _, k := range e.keys {
			if _, err := k.v.Verify(b, verify.NewPolicy(artifact(), verify.WithKey())); err == nil {
				return Verified, "key " + k.key.Fingerprint, ""
			}
			names = append(names, k.key.Fingerprint)
		}
		return OtherSigner, "", "signature does not verify with key " + strings.Join(names, ", ") + " (made with another key, or altered)"
	}
	if leaf == nil {
		return OtherSigner, "", "signed with a key; a certificate identity was expected"
	}
	opts := make([]verify.PolicyOption, 0, len(e.identities))
	for _, id := range e.identities {
		opts = append(opts, verify.WithCertificateIdentity(id))
	}
	res, err := e.keyless.Verify(b, verify.NewPolicy(artifact(), opts...))
	signer := certSigner(leaf)
	if err != nil {
		var nomatch *verify.ErrNoMatchingCertificateIdentity
		if errors.As(err, &nomatch) {
			return OtherSigner, signer, "certificate identity " + signer + " is not an accepted identity"
		}
		return Invalid, signer, oneline.Err(err)
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		c := res.Signature.Certificate
		signer = c.SubjectAlternativeName + " (issuer " + c.Issuer + ")"
	}
	return Verified, signer, ""
}

func certSigner(c *x509.Certificate) string {
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return "certificate " + c.Subject.String()
	}
	return s.SubjectAlternativeName + " (issuer " + s.Issuer + ")"
}

// flatError keeps an error on one line (registries put response bodies,
// with newlines, in their errors).
type flatError struct{ err error }

func (e *flatError) Error() string { return oneline.Err(e.err) }
func (e *flatError) Unwrap() error { return e.err }

func flat(err error) error {
	if err == nil {
		return nil
	}
	return &flatError{err}
}
