package sign

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func newVerifier(t testing.TB, p Policy) *Verifier {
	t.Helper()
	v, err := New(Config{Policy: p, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifyKey covers key-based verification of both signature formats.
func TestVerifyKey(t *testing.T) {
	good, other := newKey(t), newKey(t)
	goodPub := publicKey(t, good)
	tests := []struct {
		name string
		// setup pushes images and signatures; returns the reference to verify.
		setup      func(t *testing.T, host string) string
		referrers  bool
		want       Status
		wantReason string
		wantLoc    string
	}{
		{"unsigned", func(t *testing.T, host string) string {
			pushImage(t, host, "app:1")
			return host + "/app:1"
		}, true, Missing, "no sha256-", ""},
		{"legacy good", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signLegacy(t, d, d.DigestStr(), good, nil)
			return host + "/app:1"
		}, true, Verified, "", ".sig#sha256:"},
		{"legacy wrong key", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signLegacy(t, d, d.DigestStr(), other, nil)
			return host + "/app:1"
		}, true, OtherSigner, "does not verify with key " + goodPub.Fingerprint, ".sig#"},
		{"legacy tampered payload names another digest", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			evil := pushImage(t, host, "app:evil")
			// the signature of the evil image's digest copied under the good one's .sig tag
			signLegacy(t, d, evil.DigestStr(), good, nil)
			return host + "/app:1"
		}, true, Invalid, "signed payload names ", ".sig#"},
		{"legacy tag moved to another digest", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signLegacy(t, d, d.DigestStr(), good, nil)
			pushImage(t, host, "app:1") // the tag now names a new, unsigned digest
			return host + "/app:1"
		}, true, Missing, "", ""},
		{"bundle referrer good (referrers API)", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signBundle(t, d, d.DigestStr(), good, nil, false)
			return host + "/app:1"
		}, true, Verified, "", "app@sha256:"},
		{"bundle referrer good (fallback tag)", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signBundle(t, d, d.DigestStr(), good, nil, true)
			return host + "/app:1"
		}, false, Verified, "", "app@sha256:"},
		{"bundle wrong key", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signBundle(t, d, d.DigestStr(), other, nil, false)
			return host + "/app:1"
		}, true, OtherSigner, "does not verify with key", "app@sha256:"},
		{"bundle statement names another digest", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			evil := pushImage(t, host, "app:evil")
			signBundle(t, d, evil.DigestStr(), good, nil, false)
			return host + "/app:1"
		}, true, Invalid, "signed statement names ", "app@sha256:"},
		{"bundle tag moved", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signBundle(t, d, d.DigestStr(), good, nil, false)
			pushImage(t, host, "app:1")
			return host + "/app:1"
		}, true, Missing, "", ""},
		{"by digest, wrong and good signatures: good wins", func(t *testing.T, host string) string {
			d := pushImage(t, host, "app:1")
			signBundle(t, d, d.DigestStr(), other, nil, false)
			signLegacy(t, d, d.DigestStr(), good, nil)
			return d.String()
		}, true, Verified, "", ".sig#"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := startRegistry(t, tc.referrers)
			ref := tc.setup(t, host)
			res, err := newVerifier(t, Policy{Keys: []*Key{goodPub}}).Verify(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("status %s, want %s: %s", res.Status, tc.want, res.Summary())
			}
			if !strings.Contains(res.Reason, tc.wantReason) || !strings.Contains(res.Location, tc.wantLoc) {
				t.Errorf("reason %q location %q, want %q and %q", res.Reason, res.Location, tc.wantReason, tc.wantLoc)
			}
			if tc.want == Verified && res.Signer != "key "+goodPub.Fingerprint {
				t.Errorf("signer %q", res.Signer)
			}
			d, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			if _, isDigest := d.(name.Digest); isDigest && res.Digest != d.Identifier() {
				t.Errorf("digest %s, want %s", res.Digest, d.Identifier())
			}
		})
	}
}

// TestVerifyKeyless uses a CA of the test's own as Fulcio, in an offline
// trusted root; no transparency log or SCT (IgnoreTlog, IgnoreSCT).
func TestVerifyKeyless(t *testing.T) {
	ca := newFulcio(t)
	tr := ca.trustedRoot(t)
	rogue := newFulcio(t)
	const email, issuer = "release@example.com", "https://token.example.com"
	tests := []struct {
		name     string
		id       Identity
		setup    func(t *testing.T, d name.Digest)
		want     Status
		wantSign string
	}{
		{"legacy identity match", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signLegacy(t, d, d.DigestStr(), k, pemCert(ca.issue(t, k, email, issuer)))
		}, Verified, email + " (issuer " + issuer + ")"},
		{"legacy identity regexp match", Identity{SubjectRegexp: `^.*@example\.com$`, IssuerRegexp: `^https://token\.`}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signLegacy(t, d, d.DigestStr(), k, pemCert(ca.issue(t, k, email, issuer)))
		}, Verified, email},
		{"legacy other identity", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signLegacy(t, d, d.DigestStr(), k, pemCert(ca.issue(t, k, "mallory@example.com", issuer)))
		}, OtherSigner, "mallory@example.com"},
		{"legacy other issuer", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signLegacy(t, d, d.DigestStr(), k, pemCert(ca.issue(t, k, email, "https://evil.example.com")))
		}, OtherSigner, "evil.example.com"},
		{"legacy certificate from an untrusted CA", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signLegacy(t, d, d.DigestStr(), k, pemCert(rogue.issue(t, k, email, issuer)))
		}, Invalid, email},
		{"legacy signed with a key", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			signLegacy(t, d, d.DigestStr(), newKey(t), nil)
		}, OtherSigner, ""},
		{"legacy certificate of another key", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			signLegacy(t, d, d.DigestStr(), newKey(t), pemCert(ca.issue(t, newKey(t), email, issuer)))
		}, Invalid, email},
		{"bundle identity match", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signBundle(t, d, d.DigestStr(), k, ca.issue(t, k, email, issuer), false)
		}, Verified, email + " (issuer " + issuer + ")"},
		{"bundle other identity", Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := newKey(t)
			signBundle(t, d, d.DigestStr(), k, ca.issue(t, k, "mallory@example.com", issuer), false)
		}, OtherSigner, "mallory@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := startRegistry(t, true)
			d := pushImage(t, host, "app:1")
			tc.setup(t, d)
			v := newVerifier(t, Policy{Identities: []Identity{tc.id}, TrustedRoot: tr, IgnoreTlog: true, IgnoreSCT: true})
			res, err := v.Verify(context.Background(), host+"/app:1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want || !strings.Contains(res.Signer, tc.wantSign) {
				t.Fatalf("got %s signer %q, want %s %q: %s", res.Status, res.Signer, tc.want, tc.wantSign, res.Summary())
			}
		})
	}
}

func pemCert(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + wrap64(der) + "-----END CERTIFICATE-----\n")
}
