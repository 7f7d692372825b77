package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/webhook"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditServe runs rampart audit serve on loopback TLS, posts an
// EventList of captured events the way the API server's webhook backend
// does, and checks the alerts on stdout, the metrics, and the drained
// shutdown.
func TestAuditServe(t *testing.T) {
	dir := t.TempDir()
	m, _, err := webhook.EnsureTLS(nil, []string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tls.crt"), m.Cert, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), m.Key, 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var out, errb syncBuffer
	cmd := NewCmdAudit(IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs([]string{"serve", "--addr", addr, "--cert-dir", dir, "--no-cluster", "--log-format", "text"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CACert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	lines, err := os.ReadFile(capturedAudit)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(strings.Split(strings.TrimSpace(string(lines)), "\n"), ",") + `]}`)
	// The server starts listening in the background: retry the first
	// request until it answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Post("https://"+addr+"/audit", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer: %v; stderr %s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := client.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	n := strings.Count(strings.TrimSpace(string(lines)), "\n") + 1
	if !strings.Contains(metrics.String(), `rampart_detect_events_total{source="audit-webhook"} `+strconv.Itoa(n)) {
		t.Errorf("metrics lack %d received events", n)
	}
	cancel() // SIGTERM: drain the queue, flush dedupe, exit
	if err := <-done; err != nil {
		t.Fatalf("serve: %v; stderr %s", err, errb.String())
	}
	for _, rule := range []string{"audit-pod-privileged", "audit-cluster-admin-binding", "audit-secret-read-unusual", "audit-anonymous-allowed"} {
		if !strings.Contains(out.String(), `"rule":"`+rule+`"`) {
			t.Errorf("no %s alert on stdout", rule)
		}
	}
	if !strings.Contains(errb.String(), "received="+strconv.Itoa(n)) || !strings.Contains(errb.String(), "dropped=0") {
		t.Errorf("shutdown log lacks the counts: %s", errb.String())
	}
}
