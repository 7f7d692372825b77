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
		SinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_detect_sink_errors_total", Help: "Alerts a sink failed to deliver or dropped, by sink.",
		}, []string{"sink"}),
		Queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rampart_detect_queue_depth", Help: "Events waiting in the queue, by source.",
		}, []string{"source"}),
	}
	m.Registry.MustRegister(m.Alerts, m.Repeats, m.Events, m.Dropped, m.SinkErrors, m.Queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AddRuleSet exports the rule set's per-rule counters (evaluations past the
// prefilter, matches, evaluation errors) as
// rampart_detect_rule_{evaluations,matches,errors}_total{source,rule}.
func (m *Metrics) AddRuleSet(rs *RuleSet) error {
	return m.Registry.Register(ruleCollector{rs: rs})
}

var (
	ruleEvals   = prometheus.NewDesc("rampart_detect_rule_evaluations_total", "Rule conditions evaluated (events past the rule's prefilter), by source and rule.", []string{"source", "rule"}, nil)
	ruleMatches = prometheus.NewDesc("rampart_detect_rule_matches_total", "Events a rule matched (before dedupe), by source and rule.", []string{"source", "rule"}, nil)
	ruleErrors  = prometheus.NewDesc("rampart_detect_rule_errors_total", "Rule evaluation errors (the event did not match), by source and rule.", []string{"source", "rule"}, nil)
)

type ruleCollector struct{ rs *RuleSet }

// Describe implements prometheus.Collector.
func (c ruleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ruleEvals
	ch <- ruleMatches
	ch <- ruleErrors
}

// Collect implements prometheus.Collector.
func (c ruleCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.rs.Source().Name
	for _, s := range c.rs.Stats() {
		ch <- prometheus.MustNewConstMetric(ruleEvals, prometheus.CounterValue, float64(s.Evaluations), src, s.Rule)
		ch <- prometheus.MustNewConstMetric(ruleMatches, prometheus.CounterValue, float64(s.Matches), src, s.Rule)
		ch <- prometheus.MustNewConstMetric(ruleErrors, prometheus.CounterValue, float64(s.Errors), src, s.Rule)
	}
}
