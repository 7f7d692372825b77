package sign_test

import (
	"context"
	"fmt"
	"github.com/rampart-dev/rampart/internal/sign"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// countingTransport counts requests for .sig manifests and slows every
// request down so that concurrent verifications overlap.
type countingTransport struct {
	sigGets atomic.Int64
	heads   atomic.Int64
	delay   time.Duration
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/manifests/sha256-") && strings.HasSuffix(req.URL.Path, ".sig") {
		c.sigGets.Add(1)
	}
	if req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
		c.heads.Add(1)
	}
	time.Sleep(c.delay)
	return remote.DefaultTransport.RoundTrip(req)
}

func TestVerifyCoalescesAndCaches(t *testing.T) {
	k := signtest.NewKey(t)
	host := signtest.StartRegistry(t, true)
	d := signtest.PushImage(t, host, "app:1")
	signtest.SignLegacy(t, d, d.DigestStr(), k, nil)
	ct := &countingTransport{delay: 20 * time.Millisecond}
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v, err := sign.New(sign.Config{Policy: sign.Policy{Keys: []*sign.Key{signtest.PublicKey(t, k)}}, Transport: ct, CacheTTL: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			res, err := v.VerifyDigest(context.Background(), d)
			if err != nil {
				errs <- err
				return
			}
			if res.Status != sign.Verified {
				errs <- fmt.Errorf("status %s", res.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := ct.sigGets.Load(); n != 1 {
		t.Fatalf("16 concurrent verifications of one digest fetched the .sig manifest %d times, want 1", n)
	}
	// Cached: a tag naming the digest costs one HEAD and no signature fetch.
	if _, err := v.Verify(context.Background(), host+"/app:1"); err != nil {
		t.Fatal(err)
	}
	if n, h := ct.sigGets.Load(), ct.heads.Load(); n != 1 || h != 1 {
		t.Fatalf("after a cached verification: %d .sig fetches and %d HEADs, want 1 and 1", n, h)
	}
	// Expired after the TTL.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := v.VerifyDigest(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if n := ct.sigGets.Load(); n != 2 {
		t.Fatalf("after the TTL: %d .sig fetches, want 2", n)
	}
}
