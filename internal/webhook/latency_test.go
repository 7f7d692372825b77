package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control/framework"
)

// benchBodies are the AdmissionReviews of the latency benchmarks: the mix
// an API server sends (pods, a Deployment, RBAC), in a namespace that
// enforces high severity and above.
func benchBodies() [][]byte {
	const ns = "enforce"
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"enforce","labels":{"app":"web"}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{
"securityContext":{"runAsNonRoot":true,"runAsUser":10001,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"web","image":"registry.example.com/web:1.4.2","ports":[{"containerPort":8080}],
"env":[{"name":"LOG_LEVEL","value":"info"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"256Mi"}},
"readinessProbe":{"httpGet":{"path":"/ready","port":8080}},
"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}]}}}}`
	crb := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"ci"},
"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"ci"}]}`
	return [][]byte{
		review("Pod", ns, privilegedPod),
		review("Pod", ns, hardenedPod),
		review("Deployment", ns, deploy),
		review("ClusterRoleBinding", "", crb),
	}
}

// benchServer builds the Server over every built-in control, with the
// modes of an enforce namespace and audit records logged as JSON.
func benchServer(tb testing.TB) *Server {
	tb.Helper()
	p, err := NewPolicy(config.Webhook{}, DefaultNamespace, framework.MustLoad())
	if err != nil {
		tb.Fatal(err)
	}
	labels := map[string]string{LabelEnforce: "high"}
	nsLabels := func(string) (map[string]string, bool) { return labels, true }
	return NewServer(newEngine(tb), p, nsLabels, Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

// BenchmarkServeHTTP is one admission request in process, from the
// request body to the encoded response, per object of the mix.
func BenchmarkServeHTTP(b *testing.B) {
	s := benchServer(b)
	names := []string{"privileged-pod", "hardened-pod", "deployment", "clusterrolebinding"}
	for i, body := range benchBodies() {
		b.Run(names[i], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// loopbackRequests is the number of requests of one loopback run.
const loopbackRequests = 10_000

// BenchmarkLoopback drives the real Server over loopback TLS with 50 and
// then 500 concurrent clients, each with its own keep-alive connection as
// the API server keeps them, posting the mix of benchBodies; every
// iteration sends loopbackRequests requests after one warm-up request per
// client (the TLS handshake). It reports the p50, p95 and p99 latency and
// the throughput, and prints one summary line per run.
//
// rate=max runs are closed loops: every client sends its next request as
// soon as the previous one is answered, so the server is saturated and,
// by Little's law, the mean latency is clients ÷ throughput. rate=N runs
// are open loops at N requests/s in total, spread over the clients (the
// load an API server sends); their latency counts from the time a request
// was due, so a server falling behind is not hidden.
func BenchmarkLoopback(b *testing.B) {
	s := benchServer(b)
	addr, pool := serveLoopback(b, s)
	bodies := benchBodies()
	for _, run := range []struct{ clients, rate int }{{50, 0}, {500, 0}, {50, 2000}, {500, 2000}} {
		rate := "max"
		if run.rate > 0 {
			rate = fmt.Sprint(run.rate)
		}
		clients := run.clients
		b.Run(fmt.Sprintf("clients=%d/rate=%s", clients, rate), func(b *testing.B) {
			var all []time.Duration
			var wall time.Duration
			for range b.N {
				lat, took := loopbackRun(b, addr, pool, bodies, clients, loopbackRequests, run.rate)
				all = append(all, lat...)
				wall += took
			}
			slices.Sort(all)
			p50, p95, p99 := quantile(all, 0.50), quantile(all, 0.95), quantile(all, 0.99)
			rps := float64(len(all)) / wall.Seconds()
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p95), "p95-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(rps, "req/s")
			b.ReportMetric(0, "ns/op")
			fmt.Fprintf(os.Stdout, "\nwebhook loopback TLS: %d clients, rate %s, %d requests: p50 %.3f ms, p95 %.3f ms, p99 %.3f ms, max %.3f ms, %.0f req/s\n",
				clients, rate, len(all), ms(p50), ms(p95), ms(p99), ms(all[len(all)-1]), rps)
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// serveLoopback serves s over TLS on 127.0.0.1 with a certificate of a
// fresh CA, until the benchmark ends; it returns the address and the CA.
func serveLoopback(tb testing.TB, s *Server) (string, *x509.CertPool) {
	tb.Helper()
	m, _, err := EnsureTLS(nil, []string{"localhost"}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, m.Cert, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, m.Key, 0o600); err != nil {
		tb.Fatal(err)
	}
	certs, err := NewCertReloader(certFile, keyFile, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, certs) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("server: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CABundle)
	return ln.Addr().String(), pool
}

// loopbackRun sends total requests from clients concurrent clients, as
// fast as they are answered (rate 0) or at rate requests/s in total, and
// returns each request's latency and the wall time.
func loopbackRun(tb testing.TB, addr string, pool *x509.CertPool, bodies [][]byte, clients, total, rate int) ([]time.Duration, time.Duration) {
	tb.Helper()
	url := "https://" + addr + Path
	hc := make([]*http.Client, clients)
	for i := range hc {
		hc[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, IdleConnTimeout: time.Minute,
		}}
	}
	post := func(c *http.Client, body []byte) error {
		resp, err := c.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// Warm up: one request per client opens its connection.
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			if err := post(hc[i], bodies[i%len(bodies)]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		tb.Fatalf("warm-up: %v", err)
	default:
	}

	lat := make([][]time.Duration, clients)
	start := time.Now()
	for i := range clients {
		n := total / clients
		if i < total%clients {
			n++
		}
		var interval, offset time.Duration
		if rate > 0 {
			interval = time.Duration(float64(time.Second) * float64(clients) / float64(rate))
			offset = interval * time.Duration(i) / time.Duration(clients)
		}
		wg.Go(func() {
			l := make([]time.Duration, 0, n)
			for j := range n {
				t0 := time.Now()
				if rate > 0 {
					// Latency counts from when the request was due.
					due := start.Add(offset + time.Duration(j)*interval)
					time.Sleep(time.Until(due))
					t0 = due
				}
				if err := post(hc[i], bodies[(i+j)%len(bodies)]); err != nil {
					errs <- err
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[i] = l
		})
	}
	wg.Wait()
	took := time.Since(start)
	select {
	case err := <-errs:
		tb.Fatalf("request: %v", err)
	default:
	}
	for _, c := range hc {
		c.CloseIdleConnections()
	}
	return slices.Concat(lat...), took
}
