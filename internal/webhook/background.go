package webhook

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/report"
)

// Background rescans the cluster's existing objects periodically, so that
// policy added later still reports objects admitted before it. The last
// result is exposed as metrics (rampart_background_findings) and, through
// ReportHandler, in every report format.
type Background struct {
	// Scan scans the live cluster (rampart scan --cluster).
	Scan func(ctx context.Context) (*report.Result, error)
	// Interval is the time between the end of one scan and the start of
	// the next.
	Interval time.Duration
	// Metrics receive the findings of each scan.
	Metrics *Metrics
	// Log receives errors and a summary of each scan.
	Log  *slog.Logger
	last atomic.Pointer[report.Result]
}

// Run scans at once and then every Interval until ctx ends. A failed scan
// is logged and the previous result kept.
func (b *Background) Run(ctx context.Context) {
	for {
		start := time.Now()
		res, err := b.Scan(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			b.Log.Error("background audit failed; keeping the previous result", "error", err)
		default:
			b.publish(res)
			b.Log.Info("background audit done", "objects", res.Summary.Objects, "findings", res.Summary.Findings,
				"errors", res.Summary.Errors, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.Interval):
		}
	}
}

// publish makes res the last result and sets the gauges from it.
func (b *Background) publish(res *report.Result) {
	b.Metrics.Background.Reset()
	for _, f := range res.Findings {
		if f.Status == string(control.StatusFail) {
			b.Metrics.Background.WithLabelValues(f.Control, f.Severity).Inc()
		}
	}
	b.last.Store(res)
}

// Last returns the last result, or nil before the first scan finished.
func (b *Background) Last() *report.Result { return b.last.Load() }

// ReportHandler serves the last result in the format named by the format
// query parameter (default json), with writers by format name.
func (b *Background) ReportHandler(writers map[string]report.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := b.Last()
		if res == nil {
			http.Error(w, "the first background audit has not finished", http.StatusServiceUnavailable)
			return
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "json"
		}
		wr, ok := writers[format]
		if !ok {
			http.Error(w, "unknown format "+format, http.StatusBadRequest)
			return
		}
		ct := map[string]string{"json": "application/json", "sarif": "application/sarif+json", "html": "text/html; charset=utf-8",
			"junit": "application/xml", "table": "text/plain; charset=utf-8"}[format]
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		bw := bufio.NewWriter(w)
		if err := wr.Write(bw, res, report.Options{Width: 120}); err != nil {
			b.Log.Warn("writing the background report", "error", err)
			return
		}
		_ = bw.Flush()
	})
}
