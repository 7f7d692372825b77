// Package signtest signs images for tests the way cosign does: the legacy
// .sig tag and Sigstore bundle referrers, with keys or certificates from a
// test CA acting as Fulcio, pushed to an in-process registry.
package signtest

import (
	"io"
	"log"

	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/rampart-dev/rampart/internal/sign"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
)

// StartRegistry starts an in-process registry and returns its host:port; referrers toggles the OCI
// referrers API (without it clients use the sha256-<hex> fallback tag).
func StartRegistry(t testing.TB, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrers), ggcrregistry.Logger(discardLogger())))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// PushImage pushes a random image under repo:tag and returns its digest.
func PushImage(t testing.TB, host, repoTag string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// NewKey generates an ECDSA P-256 key.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PublicKey returns k's public half as a trusted sign.Key.
func PublicKey(t testing.TB, k *ecdsa.PrivateKey) *sign.Key {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := sign.ParsePublicKey("cosign.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// SignBytes signs the SHA-256 of msg, as cosign does.
func SignBytes(t testing.TB, k crypto.Signer, msg []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(msg)
	sig, err := k.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// SimpleSigningPayload is the payload cosign signs for digest.
func SimpleSigningPayload(repo, digest string) []byte {
	return fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo, digest)
}

// SignLegacy writes the cosign .sig image for target, whose payload names
// payloadDigest (normally target's own digest), signed by k; certPEM is
// the keyless certificate annotation when not empty.
func SignLegacy(t testing.TB, target name.Digest, payloadDigest string, k crypto.Signer, certPEM []byte) {
	t.Helper()
	payload := SimpleSigningPayload(target.Context().Name(), payloadDigest)
	ann := map[string]string{sign.AnnotationSignature: base64.StdEncoding.EncodeToString(SignBytes(t, k, payload))}
	if certPEM != nil {
		ann[sign.AnnotationCertificate] = string(certPEM)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(payload, sign.SimpleSigningMediaType), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(target.DigestStr())
	tag := target.Context().Tag(h.Algorithm + "-" + h.Hex + ".sig")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// rawManifest is a manifest pushed as is.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// SignBundle attaches a Sigstore bundle v0.3 (DSSE over an in-toto
// statement naming subjectDigest) to target as a referrer. certDER is the
// keyless certificate; without it the bundle carries a public key hint.
// With fallback, the referrers index is pushed to the sha256-<hex> tag.
func SignBundle(t testing.TB, target name.Digest, subjectDigest string, k crypto.Signer, certDER []byte, fallback bool) name.Digest {
	t.Helper()
	sh, _ := v1.NewHash(subjectDigest)
	stmt := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":%q,"digest":{"sha256":%q}}],"predicateType":%q,"predicate":{}}`,
		target.Context().Name(), sh.Hex, sign.CosignSignPredicate)
	const pt = "application/vnd.in-toto+json"
	pb := &protobundle.Bundle{
		MediaType: sign.BundleArtifactType,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: stmt, PayloadType: pt,
			Signatures: []*protodsse.Signature{{Sig: SignBytes(t, k, pae(pt, stmt))}},
		}},
		VerificationMaterial: &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "k"}}},
	}
	if certDER != nil {
		pb.VerificationMaterial = &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: certDER}}}
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return PushReferrer(t, target, raw, sign.BundleArtifactType, fallback)
}

// PushReferrer pushes a cosign-shaped bundle manifest (artifactType set,
// empty config, one layer) whose subject is target.
func PushReferrer(t testing.TB, target name.Digest, layer []byte, artifactType string, fallback bool) name.Digest {
	t.Helper()
	repo := target.Context()
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	lay := static.NewLayer(layer, types.MediaType(artifactType))
	for _, l := range []v1.Layer{cfg, lay} {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		d, _ := l.Digest()
		s, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: d, Size: s}
	}
	th, _ := v1.NewHash(target.DigestStr())
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config: desc(cfg), Layers: []v1.Descriptor{desc(lay)},
		Subject: &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: th, Size: 1},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mh, _, _ := v1.SHA256(strings.NewReader(string(b)))
	ref := repo.Digest(mh.String())
	if err := remote.Put(ref, rawManifest{b, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	if fallback {
		idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1, Digest: mh, Size: int64(len(b)), ArtifactType: artifactType}}}
		ib, _ := json.Marshal(idx)
		if err := remote.Put(repo.Tag(th.Algorithm+"-"+th.Hex), rawManifest{ib, types.OCIImageIndex}); err != nil {
			t.Fatal(err)
		}
	}
	return ref
}

// Fulcio is a test certificate authority acting as Fulcio.
type Fulcio struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// NewFulcio creates a self-signed CA valid for a day.
func NewFulcio(t testing.TB) *Fulcio {
	t.Helper()
	k := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test fulcio", Organization: []string{"rampart test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &Fulcio{key: k, cert: c}
}

// Issue returns a code-signing certificate for email with the Fulcio OIDC
// issuer extension (1.3.6.1.4.1.57264.1.8).
func (f *Fulcio) Issue(t testing.TB, signer *ecdsa.PrivateKey, email, issuer string) []byte {
	t.Helper()
	iss, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		EmailAddresses: []string{email},
		KeyUsage:       x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: iss}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.cert, &signer.PublicKey, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TrustedRoot writes a trusted_root.json holding the CA and loads it back.
func (f *Fulcio) TrustedRoot(t testing.TB) (*root.TrustedRoot, string) {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: f.cert, ValidityPeriodStart: time.Now().Add(-time.Hour), URI: "https://fulcio.test"}},
		nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := sign.LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	return loaded, p
}

func wrap64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// PEMCert encodes a DER certificate as PEM.
func PEMCert(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + wrap64(der) + "-----END CERTIFICATE-----\n")
}
