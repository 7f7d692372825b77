package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control/framework"
)

// TestCertificateRotationDropsNoRequest serves admission reviews from a
// certificate pair on disk, replaces the pair (same CA, new serving
// certificate, as a rotation does) while clients keep sending requests,
// and requires that every request succeeds and that new connections get
// the new certificate.
func TestCertificateRotationDropsNoRequest(t *testing.T) {
	now := time.Now()
	dns := []string{"127.0.0.1.nip.test"}
	// Material issued almost a year ago: its serving certificate is due.
	first, _, err := EnsureTLS(nil, dns, now.Add(-(ServingValidity - RenewBefore/2)))
	if err != nil {
		t.Fatal(err)
	}
	second, changes, err := EnsureTLS(&first, dns, now)
	if err != nil || len(changes) == 0 || !bytes.Equal(second.CACert, first.CACert) || bytes.Equal(second.Cert, first.Cert) {
		t.Fatalf("rotation did not issue a new serving certificate under the same CA: %v %v", changes, err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(m TLSMaterial) {
		// As a Secret volume update does: new files, then an atomic rename.
		for name, data := range map[string][]byte{certFile: m.Cert, keyFile: m.Key} {
			tmp := name + ".new"
			if err := os.WriteFile(tmp, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(first)
	certs, err := NewCertReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(config.Webhook{}, "rampart-system", framework.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(newEngine(t), p, nil, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx, ln, certs) }()
	go certs.Watch(ctx, 20*time.Millisecond)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(first.CACert)
	serial := func(cs tls.ConnectionState) string { return cs.PeerCertificates[0].SerialNumber.String() }
	firstSerial, secondSerial := certSerial(t, first.Cert), certSerial(t, second.Cert)
	url := "https://" + ln.Addr().String() + Path
	body := review("Pod", "default", privilegedPod)

	var ok, failed atomic.Int64
	var seenSecond atomic.Bool
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A fresh connection each time, as after a load balancer
				// reconnects: it must see whichever pair is current.
				c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: dns[0], MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
				resp, err := c.Post(url, "application/json", bytes.NewReader(body))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				switch serial(*resp.TLS) {
				case secondSerial:
					seenSecond.Store(true)
				case firstSerial:
				default:
					failed.Add(1)
				}
				resp.Body.Close()
				ok.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	write(second)
	deadline := time.Now().Add(10 * time.Second)
	for !seenSecond.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if !seenSecond.Load() {
		t.Fatal("no connection got the rotated certificate")
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed across the rotation", failed.Load(), failed.Load()+ok.Load())
	}
	t.Logf("%d requests across the rotation, none failed", ok.Load())
}

func certSerial(t *testing.T, certPEM []byte) string {
	t.Helper()
	c, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}
