package detect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Dispatcher deduplicates alerts and delivers them to sinks. It is safe for
// concurrent use.
type Dispatcher struct {
	dedupe  *Deduper
	sinks   []Sink
	metrics *Metrics
	log     *slog.Logger
	mu      sync.Mutex
	onAlert func(Alert)
}

// DispatcherOption configures a Dispatcher.
type DispatcherOption func(*Dispatcher)

// WithMetrics counts alerts and sink errors in m.
func WithMetrics(m *Metrics) DispatcherOption { return func(d *Dispatcher) { d.metrics = m } }

// WithLogger logs sink failures to l.
func WithLogger(l *slog.Logger) DispatcherOption { return func(d *Dispatcher) { d.log = l } }

// WithCollector also hands every emitted alert to fn (replay reports,
// tests).
func WithCollector(fn func(Alert)) DispatcherOption { return func(d *Dispatcher) { d.onAlert = fn } }

// NewDispatcher returns a dispatcher deduplicating with dd (nil: no
// dedupe) and delivering to sinks.
func NewDispatcher(dd *Deduper, sinks []Sink, opts ...DispatcherOption) *Dispatcher {
	d := &Dispatcher{dedupe: dd, sinks: sinks, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Alert offers one alert: it is emitted unless it repeats an alert within
// its cooldown (then it is counted into a later emission).
func (d *Dispatcher) Alert(a Alert) {
	if d.dedupe == nil {
		d.emit([]Alert{a})
		return
	}
	d.emit(d.dedupe.Offer(a))
}

// Tick emits the summaries of cooldowns that ended before now.
func (d *Dispatcher) Tick(now time.Time) {
	if d.dedupe != nil {
		d.emit(d.dedupe.Tick(now))
	}
}

// Run calls Tick every interval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.Tick(now)
		}
	}
}

func (d *Dispatcher) emit(alerts []Alert) {
	if len(alerts) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range alerts {
		a := &alerts[i]
		if d.metrics != nil {
			d.metrics.Alerts.WithLabelValues(a.Source, a.Rule, a.Severity).Inc()
			if a.Count > 1 {
				d.metrics.Repeats.WithLabelValues(a.Source, a.Rule).Add(float64(a.Count - 1))
			}
		}
		if d.onAlert != nil {
			d.onAlert(*a)
		}
		for _, s := range d.sinks {
			if err := s.Send(a); err != nil {
				if d.metrics != nil {
					d.metrics.SinkErrors.WithLabelValues(s.Name()).Inc()
				}
				d.log.Error("alert not delivered", "sink", s.Name(), "rule", a.Rule, "error", err)
			}
		}
	}
}

// Close emits every pending summary and closes the sinks.
func (d *Dispatcher) Close() error {
	if d.dedupe != nil {
		d.emit(d.dedupe.Flush())
	}
	var errs []error
	for _, s := range d.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
