package sign_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/sign"
	"github.com/rampart-dev/rampart/internal/sign/signtest"
)

// hostile serves a real registry but replaces the answers for paths
// matching a rule.
func hostile(t *testing.T, rules func(w http.ResponseWriter, r *http.Request) bool) (string, func(string) name.Digest) {
	t.Helper()
	inner := signtest.StartRegistry(t, true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rules(w, r) {
			return
		}
		r.URL.Scheme, r.URL.Host = "http", inner
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		req.Header = r.Header
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			_, _ = w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(proxy.Close)
	host := strings.TrimPrefix(proxy.URL, "http://")
	return host, func(tag string) name.Digest { return signtest.PushImage(t, host, tag) }
}

func TestHostileRegistry(t *testing.T) {
	k := signtest.NewKey(t)
	pub := signtest.PublicKey(t, k)
	tests := []struct {
		name string
		rule func(w http.ResponseWriter, r *http.Request) bool
		// sign signs the pushed image (through the proxy).
		sign    func(t *testing.T, d name.Digest)
		wantErr string
		want    sign.Status
		reason  string
	}{
		{"huge .sig manifest", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".sig") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.WriteHeader(http.StatusOK)
				chunk := []byte(strings.Repeat(" ", 1<<20))
				for range 64 { // 64 MiB, without Content-Length
					if _, err := w.Write(chunk); err != nil {
						return true
					}
				}
				return true
			}
			return false
		}, nil, "exceeds the 4194304-byte limit", "", ""},
		{"huge Content-Length", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".sig") {
				w.Header().Set("Content-Length", fmt.Sprint(int64(10<<30)))
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		}, nil, "exceeds the 4194304-byte limit", "", ""},
		{"bad JSON .sig manifest", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".sig") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				_, _ = w.Write([]byte(`{"layers": [`))
				return true
			}
			return false
		}, nil, "bad manifest", "", ""},
		{"bad JSON referrers index", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/referrers/") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
				_, _ = w.Write([]byte(`{"manifests": 7}`))
				return true
			}
			return false
		}, nil, "referrers of", "", ""},
		{"referrers flood and self-loop", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/referrers/") {
				// 10,000 referrers, all naming the subject itself.
				subject := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
				h, _ := v1.NewHash(subject)
				idx := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
				for range 10000 {
					idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: h, Size: 100, ArtifactType: sign.BundleArtifactType})
				}
				b, _ := json.Marshal(idx)
				w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
				_, _ = w.Write(b)
				return true
			}
			return false
		}, nil, "", sign.Invalid, "more than 32 bundle referrers"},
		{"oversized signature payload", func(http.ResponseWriter, *http.Request) bool { return false },
			func(t *testing.T, d name.Digest) {
				signtest.PushReferrer(t, d, []byte(strings.Repeat("x", 2<<20)), sign.BundleArtifactType, false)
			}, "", sign.Invalid, "exceeds the 1048576-byte limit"},
		{"bundle that is not JSON", func(http.ResponseWriter, *http.Request) bool { return false },
			func(t *testing.T, d name.Digest) {
				signtest.PushReferrer(t, d, []byte("{not json"), sign.BundleArtifactType, false)
			}, "", sign.Invalid, "bundle:"},
		{"registry error", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, ".sig") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return true
			}
			return false
		}, nil, "500", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host, push := hostile(t, tc.rule)
			d := push("app:1")
			if tc.sign != nil {
				tc.sign(t, d)
			}
			v, err := sign.New(sign.Config{Policy: sign.Policy{Keys: []*sign.Key{pub}}, CacheSize: -1, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), host+"/app:1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			last := res.Signatures[len(res.Signatures)-1]
			if res.Status != tc.want || !strings.Contains(last.Reason, tc.reason) || len(res.Signatures) > 33 {
				t.Fatalf("got %s, %d signatures, last %q; want %s %q", res.Status, len(res.Signatures), last.Reason, tc.want, tc.reason)
			}
		})
	}
}
