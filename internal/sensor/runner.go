package sensor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/rampart-dev/rampart/internal/detect"
)

// EventReader is where a Runner reads events: a Sensor, or a fake in tests.
type EventReader interface {
	// Read blocks for the next event; ErrClosed ends the stream.
	Read() (Event, error)
}

// LostCounter reports events the kernel could not queue.
type LostCounter interface {
	// Lost returns the total count since the start.
	Lost() (uint64, error)
}

// Runner evaluates the sensor's events: it attributes each to its container
// and pod, runs the rules and hands matches to the dispatcher.
type Runner struct {
	// Rules are the compiled sensor rules (Source).
	Rules *detect.RuleSet
	// Dispatcher dedupes and delivers alerts.
	Dispatcher *detect.Dispatcher
	// Attributor maps events to containers and pods.
	Attributor *Attributor
	// Procs keeps executables and argv by pid.
	Procs *Procs
	// APIServers are the API server's addresses the rules compare with.
	APIServers []string
	// Metrics, when set, count events and lost events.
	Metrics *detect.Metrics
	// Log receives periodic and final statistics and evaluation errors.
	Log *slog.Logger
	// StatsInterval is how often statistics are logged (default 1m).
	StatsInterval time.Duration

	bootOffset time.Duration
	events     prometheus.Counter
	memo       noMatchMemo
	last       lastAlerts
	matches    []detect.Match
	statsMu    sync.Mutex
	lostSeen   uint64
}

// wallOffset returns wall time minus CLOCK_MONOTONIC (bpf_ktime_get_ns).
func wallOffset() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - ts.Nano())
}

// Handle evaluates one event and returns the alerts offered to the
// dispatcher.
func (r *Runner) Handle(ctx context.Context, e Event) []detect.Alert {
	if r.bootOffset == 0 {
		r.bootOffset = wallOffset()
	}
	if r.Metrics != nil {
		if r.events == nil {
			r.events = r.Metrics.Events.WithLabelValues(Source.Name)
		}
		r.events.Inc()
	}
	proc := r.Procs.Observe(&e)
	at := r.Attributor.Attribute(ctx, &e)
	in := &Input{Event: &e, Process: proc, Attribution: &at, APIServers: r.APIServers}
	key, memo := r.memo.key(in)
	if memo && r.memo.seenNoMatch(key) {
		return nil
	}
	rkey := r.memo.repeatKey(in)
	if r.last.ok && r.last.key == rkey {
		return r.offer(r.last.again(r.eventTime(&e)))
	}
	var err error
	r.matches, err = r.Rules.Eval(in, r.matches[:0])
	if err != nil && r.Log != nil {
		r.Log.Debug("rule evaluation", "error", err)
	}
	if len(r.matches) == 0 {
		r.last.ok = false
		if memo && err == nil {
			r.memo.record(in, key)
		}
		return nil
	}
	t := r.eventTime(&e)
	actx := r.Attributor.Context(&at)
	facts := in.Facts()
	out := make([]detect.Alert, 0, len(r.matches))
	for _, m := range r.matches {
		a := detect.NewAlert(m, Source.Name, t, facts, actx)
		if p := at.Pod; p != nil {
			a.Object.Kind, a.Object.Namespace, a.Object.Name = "Pod", p.Namespace, p.Name
		} else {
			a.Object.Kind, a.Object.Name = "Node", r.Attributor.Node
		}
		out = append(out, a)
	}
	r.last = lastAlerts{ok: err == nil, key: rkey, alerts: out}
	return r.offer(out)
}

func (r *Runner) eventTime(e *Event) time.Time {
	return time.Unix(0, int64(e.BootNS)+int64(r.bootOffset))
}

// offer hands alerts to the dispatcher and returns them.
func (r *Runner) offer(alerts []detect.Alert) []detect.Alert {
	if r.Dispatcher != nil {
		for _, a := range alerts {
			r.Dispatcher.Alert(a)
		}
	}
	return alerts
}

// lastAlerts are the alerts of the last event that raised any: the same
// process doing the same thing again (a flood of reads of one file) raises
// the same alerts at another time without evaluating the rules again.
type lastAlerts struct {
	ok     bool
	key    uint64
	alerts []detect.Alert
}

// again returns copies of the alerts at time t (their maps are shared;
// alerts are not modified after they are built).
func (l *lastAlerts) again(t time.Time) []detect.Alert {
	out := make([]detect.Alert, len(l.alerts))
	for i, a := range l.alerts {
		a.Time, a.FirstSeen, a.LastSeen = t, t, t
		out[i] = a
	}
	return out
}

// Run reads events until ctx ends or src is closed, logging statistics
// every StatsInterval and once at the end (lost events included).
func (r *Runner) Run(ctx context.Context, src EventReader, lost LostCounter) error {
	interval := r.StatsInterval
	if interval <= 0 {
		interval = time.Minute
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r.logStats("sensor statistics", lost)
			}
		}
	}()
	defer r.logStats("sensor stopped", lost)
	for {
		e, err := src.Read()
		if errors.Is(err, ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		r.Handle(ctx, e)
	}
}

func (r *Runner) logStats(msg string, lost LostCounter) {
	if lost == nil {
		return
	}
	n, err := lost.Lost()
	if err != nil {
		if r.Log != nil {
			r.Log.Warn("reading the lost-event counter", "error", err)
		}
		return
	}
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.Metrics != nil && n > r.lostSeen {
		r.Metrics.Dropped.WithLabelValues(Source.Name, "lost").Add(float64(n - r.lostSeen))
	}
	r.lostSeen = max(r.lostSeen, n)
	if r.Log == nil {
		return
	}
	attrs := []any{"lost", n}
	if s, ok := lost.(*Sensor); ok {
		st, _ := s.Stats()
		for _, k := range Kinds {
			attrs = append(attrs, k.String(), st.Events[k])
		}
		attrs = append(attrs, "malformed", st.Malformed)
	}
	r.Log.Info(msg, attrs...)
}
