package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// eventList builds an EventList body of n captured events.
func eventList(lines [][]byte, from, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(withAuditID(lines[(from+i)%len(lines)], fmt.Sprintf("ev-%07d", from+i)))
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestServerReceives(t *testing.T) {
	lines := capturedLines(t)
	var mu sync.Mutex
	var ids []string
	srv := NewServer(func(ev *Event) {
		mu.Lock()
		ids = append(ids, ev.AuditID)
		mu.Unlock()
	}, ServerOptions{Workers: 1})
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"event list", string(eventList(lines, 0, 50)), http.StatusOK},
		{"single event", string(withAuditID(lines[0], "single")), http.StatusOK},
		{"not JSON", "{not json", http.StatusBadRequest},
		{"other kind", `{"kind":"PodList","items":[]}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ts.Client().Post(ts.URL+"/audit", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if bytes.Contains(body, []byte("\n")) && bytes.Count(body, []byte("\n")) > 1 {
				t.Errorf("error body spans lines: %q", body)
			}
		})
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := srv.Counts()
	if c.Received != 51 || c.Processed != 51 || c.Dropped != 0 || c.Rejected != 2 || len(ids) != 51 {
		t.Fatalf("counts %+v, handled %d; want 51 received and processed, 2 rejected", c, len(ids))
	}
	resp, err := ts.Client().Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(m, []byte(`rampart_detect_events_total{source="audit-webhook"} 51`)) || !bytes.Contains(m, []byte(`rampart_detect_events_dropped_total{reason="decode-error",source="audit"} 2`)) {
		t.Errorf("metrics lack the event counters:\n%s", m)
	}
}

// TestServerOverloadExactDrops fills the queue while the worker is held,
// then checks that every event was either processed or counted as dropped:
// sent = processed + dropped, exactly.
func TestServerOverloadExactDrops(t *testing.T) {
	lines := capturedLines(t)
	gate := make(chan struct{})
	var processed atomic.Uint64
	const queue, batches, perBatch = 64, 40, 25
	srv := NewServer(func(*Event) {
		<-gate
		processed.Add(1)
	}, ServerOptions{Queue: queue, Workers: 1})
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	var wg sync.WaitGroup
	for b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := ts.Client().Post(ts.URL+"/", "application/json", bytes.NewReader(eventList(lines, b*perBatch, perBatch)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(gate)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := srv.Counts()
	const sent = batches * perBatch
	if c.Received != sent || c.Processed+c.Dropped != sent || c.Processed != processed.Load() {
		t.Fatalf("sent %d: counts %+v, handler saw %d; want received = processed + dropped = sent", sent, c, processed.Load())
	}
	// The worker holds one event and the queue the next 64: the rest drop.
	if c.Dropped < sent-queue-1 {
		t.Fatalf("dropped %d, want at least %d", c.Dropped, sent-queue-1)
	}
}
