package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's Prometheus metrics, in a registry of their own.
type Metrics struct {
	// Registry holds the metrics; serve it at /metrics.
	Registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    prometheus.Histogram
	violations *prometheus.CounterVec
	timeouts   prometheus.Counter
	panics     prometheus.Counter
	// Background holds the failing findings of the last background audit
	// by control and severity.
	Background *prometheus.GaugeVec
}

// NewMetrics registers the webhook's metrics in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_webhook_requests_total", Help: "Admission requests answered, by kind, operation and decision.",
		}, []string{"kind", "operation", "decision"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rampart_webhook_request_duration_seconds", Help: "Time to answer an admission request, from decoded review to response.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 2.5},
		}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_webhook_violations_total", Help: "Control failures recorded at admission (dry runs excluded), by control and mode (enforce, warn, audit).",
		}, []string{"control", "mode"}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rampart_webhook_timeouts_total", Help: "Admission requests answered by the timeout instead of the evaluation.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rampart_webhook_panics_total", Help: "Admission requests whose evaluation panicked (they were allowed).",
		}),
		Background: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rampart_background_findings", Help: "Failing findings of the last background audit of existing objects, by control and severity.",
		}, []string{"control", "severity"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.violations, m.timeouts, m.panics, m.Background,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
