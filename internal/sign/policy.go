package sign

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Key is a trusted public key (a cosign.pub).
type Key struct {
	// Fingerprint is "sha256:" and the hex SHA-256 of the key's PKIX DER.
	Fingerprint string
	// Source is where the key was read (a file path).
	Source   string
	verifier signature.Verifier
}

// ParsePublicKey reads a PEM "PUBLIC KEY" block (cosign.pub: ECDSA, RSA or
// Ed25519). Signatures are checked with SHA-256, as cosign makes them.
func ParsePublicKey(source string, pemBytes []byte) (*Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", source)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: PEM block is %q, want PUBLIC KEY", source, block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	sum := sha256.Sum256(block.Bytes)
	return &Key{Fingerprint: "sha256:" + hex.EncodeToString(sum[:]), Source: source, verifier: v}, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (*Key, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the user names the key file
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(path, b)
}

// Identity is an accepted keyless signer: the certificate's subject
// alternative name (email, URI) and the OIDC issuer extension Fulcio
// records, each matched exactly or by a regular expression (Go RE2 syntax,
// unanchored unless anchored with ^ and $, as cosign).
type Identity struct {
	// Subject is the exact SAN.
	Subject string
	// SubjectRegexp matches the SAN.
	SubjectRegexp string
	// Issuer is the exact OIDC issuer.
	Issuer string
	// IssuerRegexp matches the OIDC issuer.
	IssuerRegexp string
}

// String renders the identity as given.
func (i Identity) String() string {
	s, is := i.Subject, i.Issuer
	if s == "" {
		s = "~" + i.SubjectRegexp
	}
	if is == "" {
		is = "~" + i.IssuerRegexp
	}
	return s + " (issuer " + is + ")"
}

// Policy says which signatures are trusted: signatures by any of Keys, or
// (keyless) certificates chaining to TrustedRoot's Fulcio authorities whose
// identity matches one of Identities. Keys and Identities are exclusive.
type Policy struct {
	// Keys are trusted public keys.
	Keys []*Key
	// Identities are the accepted keyless signers.
	Identities []Identity
	// TrustedRoot holds the Fulcio CAs, Rekor and CT log keys and TSAs
	// (trusted_root.json); required with Identities, never fetched online.
	TrustedRoot *root.TrustedRoot
	// IgnoreTlog accepts keyless signatures without a transparency log
	// entry; certificates are then checked at the current time, so only
	// long-lived certificates (a private CA) verify.
	IgnoreTlog bool
	// IgnoreSCT accepts certificates without a signed certificate timestamp.
	IgnoreSCT bool
}

// LoadTrustedRoot reads a Sigstore trusted_root.json.
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// engine is a Policy compiled into sigstore-go verifiers.
type engine struct {
	keys       []keyVerifier
	keyless    *verify.Verifier
	identities []verify.CertificateIdentity
	policy     Policy
}

type keyVerifier struct {
	key *Key
	v   *verify.Verifier
}

func compile(p Policy) (*engine, error) {
	if len(p.Keys) == 0 && len(p.Identities) == 0 {
		return nil, errors.New("no key and no certificate identity: nothing to verify against")
	}
	if len(p.Keys) > 0 && len(p.Identities) > 0 {
		return nil, errors.New("give keys or certificate identities, not both")
	}
	e := &engine{policy: p}
	for _, k := range p.Keys {
		ek := root.NewExpiringKey(k.verifier, timeZero, timeZero)
		material := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil })
		// A key has no validity period and the signature needs no time:
		// no transparency log or timestamp is required or checked.
		v, err := verify.NewVerifier(material, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, err
		}
		e.keys = append(e.keys, keyVerifier{key: k, v: v})
	}
	if len(p.Identities) == 0 {
		return e, nil
	}
	if p.TrustedRoot == nil {
		return nil, errors.New("keyless verification needs a trusted root (--trusted-root trusted_root.json)")
	}
	for _, id := range p.Identities {
		if (id.Subject == "") == (id.SubjectRegexp == "") {
			return nil, errors.New("give exactly one of --certificate-identity and --certificate-identity-regexp")
		}
		if (id.Issuer == "") == (id.IssuerRegexp == "") {
			return nil, errors.New("give exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp")
		}
		ci, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
		if err != nil {
			return nil, err
		}
		e.identities = append(e.identities, ci)
	}
	var opts []verify.VerifierOption
	if p.IgnoreTlog {
		opts = append(opts, verify.WithCurrentTime())
	} else {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	}
	if !p.IgnoreSCT {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(p.TrustedRoot, opts...)
	if err != nil {
		return nil, err
	}
	e.keyless = v
	return e, nil
}
