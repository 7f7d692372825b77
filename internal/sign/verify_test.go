package sign_test

import (
	"context"
	"github.com/rampart-dev/rampart/internal/sign"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func newVerifier(t testing.TB, p sign.Policy) *sign.Verifier {
	t.Helper()
	v, err := sign.New(sign.Config{Policy: p, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifyKey covers key-based verification of both signature formats.
func TestVerifyKey(t *testing.T) {
	good, other := signtest.NewKey(t), signtest.NewKey(t)
	goodPub := signtest.PublicKey(t, good)
	tests := []struct {
		name string
		// setup pushes images and signatures; returns the reference to verify.
		setup      func(t *testing.T, host string) string
		referrers  bool
		want       sign.Status
		wantReason string
		wantLoc    string
	}{
		{"unsigned", func(t *testing.T, host string) string {
			signtest.PushImage(t, host, "app:1")
			return host + "/app:1"
		}, true, sign.Missing, "no sha256-", ""},
		{"legacy good", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignLegacy(t, d, d.DigestStr(), good, nil)
			return host + "/app:1"
		}, true, sign.Verified, "", ".sig#sha256:"},
		{"legacy wrong key", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignLegacy(t, d, d.DigestStr(), other, nil)
			return host + "/app:1"
		}, true, sign.OtherSigner, "does not verify with key " + goodPub.Fingerprint, ".sig#"},
		{"legacy tampered payload names another digest", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			evil := signtest.PushImage(t, host, "app:evil")
			// the signature of the evil image's digest copied under the good one's .sig tag
			signtest.SignLegacy(t, d, evil.DigestStr(), good, nil)
			return host + "/app:1"
		}, true, sign.Invalid, "signed payload names ", ".sig#"},
		{"legacy tag moved to another digest", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignLegacy(t, d, d.DigestStr(), good, nil)
			signtest.PushImage(t, host, "app:1") // the tag now names a new, unsigned digest
			return host + "/app:1"
		}, true, sign.Missing, "", ""},
		{"bundle referrer good (referrers API)", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignBundle(t, d, d.DigestStr(), good, nil, false)
			return host + "/app:1"
		}, true, sign.Verified, "", "app@sha256:"},
		{"bundle referrer good (fallback tag)", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignBundle(t, d, d.DigestStr(), good, nil, true)
			return host + "/app:1"
		}, false, sign.Verified, "", "app@sha256:"},
		{"bundle wrong key", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignBundle(t, d, d.DigestStr(), other, nil, false)
			return host + "/app:1"
		}, true, sign.OtherSigner, "does not verify with key", "app@sha256:"},
		{"bundle statement names another digest", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			evil := signtest.PushImage(t, host, "app:evil")
			signtest.SignBundle(t, d, evil.DigestStr(), good, nil, false)
			return host + "/app:1"
		}, true, sign.Invalid, "signed statement names ", "app@sha256:"},
		{"bundle tag moved", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignBundle(t, d, d.DigestStr(), good, nil, false)
			signtest.PushImage(t, host, "app:1")
			return host + "/app:1"
		}, true, sign.Missing, "", ""},
		{"by digest, wrong and good signatures: good wins", func(t *testing.T, host string) string {
			d := signtest.PushImage(t, host, "app:1")
			signtest.SignBundle(t, d, d.DigestStr(), other, nil, false)
			signtest.SignLegacy(t, d, d.DigestStr(), good, nil)
			return d.String()
		}, true, sign.Verified, "", ".sig#"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := signtest.StartRegistry(t, tc.referrers)
			ref := tc.setup(t, host)
			res, err := newVerifier(t, sign.Policy{Keys: []*sign.Key{goodPub}}).Verify(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("status %s, want %s: %s", res.Status, tc.want, res.Summary())
			}
			if !strings.Contains(res.Reason, tc.wantReason) || !strings.Contains(res.Location, tc.wantLoc) {
				t.Errorf("reason %q location %q, want %q and %q", res.Reason, res.Location, tc.wantReason, tc.wantLoc)
			}
			if tc.want == sign.Verified && res.Signer != "key "+goodPub.Fingerprint {
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
	ca := signtest.NewFulcio(t)
	tr, _ := ca.TrustedRoot(t)
	rogue := signtest.NewFulcio(t)
	const email, issuer = "release@example.com", "https://token.example.com"
	tests := []struct {
		name     string
		id       sign.Identity
		setup    func(t *testing.T, d name.Digest)
		want     sign.Status
		wantSign string
	}{
		{"legacy identity match", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignLegacy(t, d, d.DigestStr(), k, signtest.PEMCert(ca.Issue(t, k, email, issuer)))
		}, sign.Verified, email + " (issuer " + issuer + ")"},
		{"legacy identity regexp match", sign.Identity{SubjectRegexp: `^.*@example\.com$`, IssuerRegexp: `^https://token\.`}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignLegacy(t, d, d.DigestStr(), k, signtest.PEMCert(ca.Issue(t, k, email, issuer)))
		}, sign.Verified, email},
		{"legacy other identity", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignLegacy(t, d, d.DigestStr(), k, signtest.PEMCert(ca.Issue(t, k, "mallory@example.com", issuer)))
		}, sign.OtherSigner, "mallory@example.com"},
		{"legacy other issuer", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignLegacy(t, d, d.DigestStr(), k, signtest.PEMCert(ca.Issue(t, k, email, "https://evil.example.com")))
		}, sign.OtherSigner, "evil.example.com"},
		{"legacy certificate from an untrusted CA", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignLegacy(t, d, d.DigestStr(), k, signtest.PEMCert(rogue.Issue(t, k, email, issuer)))
		}, sign.Invalid, email},
		{"legacy signed with a key", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			signtest.SignLegacy(t, d, d.DigestStr(), signtest.NewKey(t), nil)
		}, sign.OtherSigner, ""},
		{"legacy certificate of another key", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			signtest.SignLegacy(t, d, d.DigestStr(), signtest.NewKey(t), signtest.PEMCert(ca.Issue(t, signtest.NewKey(t), email, issuer)))
		}, sign.Invalid, email},
		{"bundle identity match", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignBundle(t, d, d.DigestStr(), k, ca.Issue(t, k, email, issuer), false)
		}, sign.Verified, email + " (issuer " + issuer + ")"},
		{"bundle other identity", sign.Identity{Subject: email, Issuer: issuer}, func(t *testing.T, d name.Digest) {
			k := signtest.NewKey(t)
			signtest.SignBundle(t, d, d.DigestStr(), k, ca.Issue(t, k, "mallory@example.com", issuer), false)
		}, sign.OtherSigner, "mallory@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := signtest.StartRegistry(t, true)
			d := signtest.PushImage(t, host, "app:1")
			tc.setup(t, d)
			v := newVerifier(t, sign.Policy{Identities: []sign.Identity{tc.id}, TrustedRoot: tr, IgnoreTlog: true, IgnoreSCT: true})
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
