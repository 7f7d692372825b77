package detect

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	for range 2 { // appends across opens
		s, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a := alertAt("k", 0)
		if err := s.Send(&a); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
}

// hookServer answers the first failures with 503, then 200, recording the
// bodies it accepted.
type hookServer struct {
	mu       sync.Mutex
	failures int
	bodies   []string
	got      chan struct{}
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures > 0 {
		h.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.bodies = append(h.bodies, string(b))
	h.got <- struct{}{}
}

func TestWebhookSink(t *testing.T) {
	tests := []struct {
		name     string
		slack    bool
		failures int
		attempts int
		want     int // bodies delivered
		check    func(t *testing.T, body string)
	}{
		{"JSON after two failures", false, 2, 5, 1, func(t *testing.T, body string) {
			var a Alert
			if err := json.Unmarshal([]byte(body), &a); err != nil || a.Rule != "r" || a.Count != 1 {
				t.Errorf("body %s: %v", body, err)
			}
		}},
		{"Slack text", true, 0, 5, 1, func(t *testing.T, body string) {
			var m map[string]string
			if err := json.Unmarshal([]byte(body), &m); err != nil || !strings.Contains(m["text"], "[HIGH] Title") || !strings.Contains(m["text"], "pod: p1") || len(m) != 1 {
				t.Errorf("body %s: %v", body, err)
			}
		}},
		{"gives up after the attempts", false, 10, 3, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hookServer{failures: tt.failures, got: make(chan struct{}, 10)}
			ts := httptest.NewTLSServer(h)
			defer ts.Close()
			var drops int
			var dmu sync.Mutex
			w, err := NewWebhook(ts.URL+"/hook/secret-token", WebhookOptions{Slack: tt.slack, Client: ts.Client(), Attempts: tt.attempts, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
				OnDrop: func() { dmu.Lock(); drops++; dmu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			a := alertAt("k", 0)
			a.Rule, a.Title, a.Severity, a.Output, a.Context.Pod = "r", "Title", "high", "something happened", "p1"
			if err := w.Send(&a); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil { // delivers what is queued
				t.Fatal(err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.bodies) != tt.want {
				t.Fatalf("%d bodies delivered, want %d", len(h.bodies), tt.want)
			}
			if tt.want == 0 && drops != 1 {
				t.Errorf("%d drops counted, want 1", drops)
			}
			if tt.check != nil {
				tt.check(t, h.bodies[0])
			}
		})
	}
}

func TestWebhookSinkURL(t *testing.T) {
	for _, u := range []string{"http://example.com/x", "ftp://x", "not a url"} {
		_, err := NewWebhook(u, WebhookOptions{})
		if err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	_, err := NewWebhook("http://hooks.example/T0/SECRET", WebhookOptions{})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v should not show the URL's path", err)
	}
}

func TestReport(t *testing.T) {
	rs := compileToy(t, "")
	a := NewAlert(Match{Rule: rs.Rules()[0], Output: "alice read secrets", Key: "k"}, "audit", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), map[string]string{"auditID": "id-1"}, Context{Namespace: "prod", ServiceAccountRisks: []string{"secrets-read: x"}})
	a.Count = 3
	res := Report("test", rs.Rules(), []Alert{a}, nil)
	if len(res.Findings) != 1 || res.Findings[0].Status != "fail" || res.Findings[0].Severity != "high" ||
		!strings.Contains(res.Findings[0].Message, "3 times") || res.Findings[0].Evidence.Location != "id-1" || !strings.Contains(res.Findings[0].Evidence.Value, "namespace=prod") {
		t.Fatalf("findings %+v", res.Findings)
	}
	if len(res.Controls) != 2 || res.Controls[0].Failed != 1 || len(res.Frameworks) != 1 || res.Frameworks[0].ID != "mitre-attack" {
		t.Fatalf("controls %+v frameworks %+v", res.Controls, res.Frameworks)
	}
}
