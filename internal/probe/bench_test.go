package probe

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkProbeClosedLoopback24 probes 127.0.1.0/24 (loopback aliases:
// on Linux all of 127.0.0.0/8 reaches lo, where nothing listens on these
// ports) on every default port at the default rate. The rate limiter
// sets the pace: 254 hosts x the default ports / DefaultRate seconds.
func BenchmarkProbeClosedLoopback24(b *testing.B) {
	ts, err := ParseTargets([]string{"127.0.1.0/24"}, false)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var endpoints int
	var ms runtime.MemStats
	start := time.Now()
	for b.Loop() {
		out := p.Run(context.Background(), ts)
		if out.Stats.Open != 0 {
			b.Fatalf("%d open endpoints on 127.0.1.0/24", out.Stats.Open)
		}
		endpoints += out.Stats.Endpoints
	}
	el := time.Since(start).Seconds()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(endpoints)/el, "endpoints/s")
	b.ReportMetric(float64(len(ts)*b.N)/el, "targets/s")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
}
