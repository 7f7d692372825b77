package detect

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the detection counters, in a Prometheus registry of their
// own (serve Registry at /metrics).
type Metrics struct {
	// Registry holds the metrics.
	Registry *prometheus.Registry
	// Alerts counts emitted alerts by source, rule and severity (an
	// emission that folds repeats counts once; Repeats counts the rest).
	Alerts *prometheus.CounterVec
	// Repeats counts alerts folded into another emission by dedupe.
	Repeats *prometheus.CounterVec
	// Events counts events received by source.
	Events *prometheus.CounterVec
	// Dropped counts events dropped by source and reason (queue-full,
	// decode-error, lost...).
	Dropped *prometheus.CounterVec
	// EvalErrors counts rule evaluation errors by source and rule.
	EvalErrors *prometheus.CounterVec
	// SinkErrors counts failed or dropped deliveries by sink.
	SinkErrors *prometheus.CounterVec
	// Queue is the current depth of an event queue, by source.
	Queue *prometheus.GaugeVec
}

// NewMetrics registers the detection metrics in a new registry, with the Go
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_alerts_total", Help: "Alerts emitted, by source, rule and severity.",
		}, []string{"source", "rule", "severity"}),
		Repeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_alert_repeats_total", Help: "Repeated alerts folded into a counted emission by dedupe, by source and rule.",
		}, []string{"source", "rule"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_events_total", Help: "Events received, by source.",
		}, []string{"source"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_events_dropped_total", Help: "Events dropped before evaluation, by source and reason.",
		}, []string{"source", "reason"}),
		EvalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_eval_errors_total", Help: "Rule evaluation errors (the event did not match), by source and rule.",
		}, []string{"source", "rule"}),
		SinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_sink_errors_total", Help: "Alerts a sink failed to deliver or dropped, by sink.",
		}, []string{"sink"}),
		Queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rampart_detect_queue_depth", Help: "Events waiting in the queue, by source.",
		}, []string{"source"}),
	}
	m.Registry.MustRegister(m.Alerts, m.Repeats, m.Events, m.Dropped, m.EvalErrors, m.SinkErrors, m.Queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
