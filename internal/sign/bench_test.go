package sign_test

import (
	"context"
	"testing"

	"github.com/rampart-dev/rampart/internal/sign"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
)

// BenchmarkVerify verifies a legacy-signed and a bundle-signed image by
// tag against an in-process registry: uncached (every lookup and
// signature check), and cached (the admission path once a digest is known:
// one HEAD to resolve the tag).
func BenchmarkVerify(b *testing.B) {
	k := signtest.NewKey(b)
	host := signtest.StartRegistry(b, true)
	d := signtest.PushImage(b, host, "app:legacy")
	signtest.SignLegacy(b, d, d.DigestStr(), k, nil)
	d2 := signtest.PushImage(b, host, "app:bundle")
	signtest.SignBundle(b, d2, d2.DigestStr(), k, nil, false)
	pol := sign.Policy{Keys: []*sign.Key{signtest.PublicKey(b, k)}}
	for _, bc := range []struct {
		name  string
		ref   string
		cache int
	}{
		{"legacy/uncached", host + "/app:legacy", -1},
		{"bundle/uncached", host + "/app:bundle", -1},
		{"legacy/cached", host + "/app:legacy", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := sign.New(sign.Config{Policy: pol, CacheSize: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := v.Verify(context.Background(), bc.ref)
				if err != nil || res.Status != sign.Verified {
					b.Fatal(err, res)
				}
			}
		})
	}
}
