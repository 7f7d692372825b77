package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"

	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/detect"
)

// benchEvents is the number of events BenchmarkReplay replays.
var benchEvents = envInt("RAMPART_BENCH_AUDIT_EVENTS", 1_000_000)

// poolSize is the number of distinct varied events the replay cycles
// through (each replayed event gets its own audit ID).
const poolSize = 20_000

// idWidth is the fixed width of generated audit IDs, so that the stream
// can overwrite them in place.
const idWidth = 36

// variedPool builds poolSize events from the captured ones, with varied
// users, namespaces and object names (so that dedupe keys, baseline entries
// and alert contexts vary as in a cluster with many tenants), and a
// fixed-width audit ID placeholder.
func variedPool(tb testing.TB) (pool [][]byte, idAt []int) {
	tb.Helper()
	lines := capturedLines(tb)
	for i := 0; i < poolSize; i++ {
		l := lines[i%len(lines)]
		k := i / len(lines)
		s := string(l)
		if k > 0 {
			s = strings.ReplaceAll(s, `"shop"`, `"shop-`+strconv.Itoa(k%200)+`"`)
			s = strings.ReplaceAll(s, `"billing"`, `"billing-`+strconv.Itoa(k%50)+`"`)
			s = strings.ReplaceAll(s, `:shop:`, `:shop-`+strconv.Itoa(k%200)+`:`)
			s = strings.ReplaceAll(s, `"username":"admin"`, `"username":"user-`+strconv.Itoa(k%500)+`"`)
			s = strings.ReplaceAll(s, `"fire-`, `"fire-`+strconv.Itoa(k)+`-`)
			s = strings.ReplaceAll(s, `"nofire-`, `"nofire-`+strconv.Itoa(k)+`-`)
			s = strings.ReplaceAll(s, `/fire-`, `/fire-`+strconv.Itoa(k)+`-`)
		}
		b := withAuditID([]byte(s), strings.Repeat("0", idWidth))
		at := bytes.Index(b, []byte(`"auditID":"`)) + len(`"auditID":"`)
		pool = append(pool, b)
		idAt = append(idAt, at)
	}
	return pool, idAt
}

// stream is an io.Reader of n JSON lines cycling through pool, each with a
// unique audit ID written in place.
type stream struct {
	pool [][]byte
	idAt []int
	n, i int
	buf  []byte
	off  int
}

func (s *stream) Read(p []byte) (int, error) {
	if s.off == len(s.buf) {
		if s.i == s.n {
			return 0, io.EOF
		}
		j := s.i % len(s.pool)
		s.buf = append(s.buf[:0], s.pool[j]...)
		id := strconv.AppendInt(nil, int64(s.i), 10)
		copy(s.buf[s.idAt[j]+idWidth-len(id):], id)
		s.buf = append(s.buf, '\n')
		s.off = 0
		s.i++
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// memStats returns the live heap after a GC, the RSS and the peak RSS
// (VmHWM) in MiB.
func memStats() (heap, rss, peak float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	heap = float64(m.HeapAlloc) / (1 << 20)
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return heap, 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return heap, rss, peak
}

// BenchmarkReplay replays 1,000,000 events generated from the captured
// API-server output through the path of rampart audit file --replay:
// line reader, decoder, usual-reader baseline, every default rule, dedupe
// and a JSON-lines sink, on one goroutine (GOMAXPROCS=1: one core). It
// reports events/s and the heap and RSS at the start and the end.
func BenchmarkReplay(b *testing.B) {
	pool, idAt := variedPool(b)
	rs := defaultRules(b)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	for b.Loop() {
		var alerts, emitted int
		disp := detect.NewDispatcher(detect.NewDeduper(time.Minute, detect.Cooldowns(rs.Rules()), 0),
			[]detect.Sink{detect.NewJSONLines("discard", io.Discard)}, detect.WithCollector(func(a detect.Alert) { emitted++; alerts += a.Count }))
		det := NewDetector(rs, &Enricher{}, &Baseline{Allow: DefaultSecretReaders}, disp, nil, nil)
		heap0, rss0, _ := memStats()
		var heapMid float64
		cpu0 := cpuTime()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		st, err := Replay(context.Background(), &stream{pool: pool, idAt: idAt, n: benchEvents}, "bench", func(ev *Event, line int) {
			_ = det.Process(ev, nil)
			if line == benchEvents/10 {
				b.StopTimer()
				heapMid, _, _ = memStats()
				b.StartTimer()
			}
		})
		elapsed := time.Since(start)
		cpu := cpuTime() - cpu0
		runtime.ReadMemStats(&ms1)
		allocs := float64(ms1.Mallocs-ms0.Mallocs) / float64(benchEvents)
		allocBytes := float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(benchEvents)
		if err != nil || st.Events != benchEvents || st.Errors != 0 {
			b.Fatalf("replayed %d events, %d errors: %v", st.Events, st.Errors, err)
		}
		_ = disp.Close()
		heap1, rss1, peak := memStats()
		rate := float64(benchEvents) / elapsed.Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(float64(benchEvents)/cpu.Seconds(), "events/cpu-s")
		b.ReportMetric(allocs, "allocs/event")
		b.ReportMetric(allocBytes, "B/event")
		b.ReportMetric(heap0, "heap-start-MiB")
		b.ReportMetric(heapMid, "heap-10%-MiB")
		b.ReportMetric(heap1, "heap-end-MiB")
		b.ReportMetric(peak, "peak-RSS-MiB")
		fmt.Fprintf(os.Stderr, "replay: %d events in %s on 1 core = %.0f events/s wall clock, %.0f events per CPU-second (process CPU time %s); %.1f allocations, %.0f bytes allocated per event; %d alert emissions standing for %d matches; heap %.1f MiB at start, %.1f at 10%%, %.1f at end; RSS %.1f → %.1f MiB, peak %.1f MiB\n",
			benchEvents, elapsed.Round(time.Millisecond), rate, float64(benchEvents)/cpu.Seconds(), cpu.Round(time.Millisecond), allocs, allocBytes, emitted, alerts, heap0, heapMid, heap1, rss0, rss1, peak)
	}
}

// BenchmarkServeOverload posts EventLists of 400 events (the API server's
// default batch size) over loopback TLS from 8 clients as fast as they go
// to a server with one worker running the default rules and a queue of
// 1,000 events (smaller than the clients' bursts of 3,200, so that it
// overflows) and of 100,000 (the default), and reports received, processed
// and dropped events, which must add up exactly.
func BenchmarkServeOverload(b *testing.B) {
	pool, _ := variedPool(b)
	lines := pool[:2000]
	rs := defaultRules(b)
	bodies := make([][]byte, 50)
	for i := range bodies {
		bodies[i] = eventList(lines, i*400, 400)
	}
	for b.Loop() {
		for _, queue := range []int{1000, 100000} {
			overload(b, rs, bodies, queue)
		}
	}
}

func overload(b *testing.B, rs *detect.RuleSet, bodies [][]byte, queue int) {
	{
		disp := detect.NewDispatcher(detect.NewDeduper(time.Minute, detect.Cooldowns(rs.Rules()), 0), nil)
		det := NewDetector(rs, &Enricher{}, nil, disp, nil, nil)
		srv := NewServer(func(ev *Event) { _ = det.Process(ev, nil) }, ServerOptions{Queue: queue, Workers: 1})
		ts := httptest.NewTLSServer(srv.Handler())
		const clients, perClient = 8, 50
		start := time.Now()
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perClient {
					resp, err := ts.Client().Post(ts.URL+"/audit", "application/json", bytes.NewReader(bodies[(c*perClient+i)%len(bodies)]))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
		posted := time.Since(start)
		if err := srv.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		ts.Close()
		c := srv.Counts()
		const sent = clients * perClient * 400
		if c.Received != sent || c.Processed+c.Dropped != sent {
			b.Fatalf("sent %d: %+v; want received = processed + dropped = sent", sent, c)
		}
		q := strconv.Itoa(queue)
		b.ReportMetric(float64(sent)/posted.Seconds(), "events-accepted/s-queue-"+q)
		b.ReportMetric(float64(c.Dropped), "dropped-queue-"+q)
		b.ReportMetric(float64(c.Processed), "processed-queue-"+q)
		fmt.Fprintf(os.Stderr, "overload (queue %d, 1 worker): sent %d events in %s (%.0f events/s accepted); received %d = processed %d + dropped %d: %v\n",
			queue, sent, posted.Round(time.Millisecond), float64(sent)/posted.Seconds(), c.Received, c.Processed, c.Dropped, c.Received == c.Processed+c.Dropped)
	}
}

// envInt reads an integer from the environment (to shorten a profiling
// run), or returns def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
