package auditlog

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/detect"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// Detector runs the audit rules on events and hands alerts, with their
// context, to a dispatcher. It is safe for concurrent use.
type Detector struct {
	rules    *detect.RuleSet
	enricher *Enricher
	baseline *Baseline
	out      *detect.Dispatcher
	log      *slog.Logger
	events   prometheus.Counter

	mu      sync.Mutex
	started map[string][]string // auditID → rules alerted at ResponseStarted
	pool    sync.Pool
}

// maxStarted bounds the long-running requests remembered between their
// ResponseStarted and ResponseComplete events.
const maxStarted = 10000

// NewDetector returns a detector. enricher and baseline may be nil (no
// context beyond the event; every secret reader outside the default
// allow-list is unusual); metrics may be nil.
func NewDetector(rules *detect.RuleSet, enricher *Enricher, baseline *Baseline, out *detect.Dispatcher, metrics *detect.Metrics, log *slog.Logger) *Detector {
	if enricher == nil {
		enricher = &Enricher{}
	}
	if baseline == nil {
		baseline = &Baseline{Allow: DefaultSecretReaders}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Detector{rules: rules, enricher: enricher, baseline: baseline, out: out, log: log, started: map[string][]string{}}
	if metrics != nil {
		d.events = metrics.Events.WithLabelValues(SourceName)
	}
	d.pool.New = func() any { s := make([]detect.Match, 0, 4); return &s }
	return d
}

// Process evaluates one event. loc, when not nil, is where it was read. An
// event at stage RequestReceived is skipped (the shipped policy omits that
// stage; rules need the response code). A long-running request (exec,
// watch) is reported once per rule: a rule that fired on its
// ResponseStarted event does not fire again on its ResponseComplete.
// The returned error is the rules' evaluation errors, if any (the event
// was still evaluated by every rule).
func (d *Detector) Process(ev *Event, loc *k8s.Source) error {
	if d.events != nil {
		d.events.Inc()
	}
	if ev.Stage == "RequestReceived" {
		return nil
	}
	if r := ev.ObjectRef; r != nil && r.Resource == "secrets" && r.Subresource == "" && r.APIGroup == "" {
		switch ev.Verb {
		case "get", "list", "watch":
			usual := d.baseline.Usual(r.Namespace, ev.User.Username, ev.User.Groups, ev.Time())
			ev.usualReader = &usual
		}
	}
	mp := d.pool.Get().(*[]detect.Match)
	matches, err := d.rules.Eval(ev, (*mp)[:0])
	if len(matches) > 0 {
		d.alert(ev, matches, loc)
	}
	clear(matches)
	*mp = matches[:0]
	d.pool.Put(mp)
	return err
}

func (d *Detector) alert(ev *Event, matches []detect.Match, loc *k8s.Source) {
	var skip []string
	if ev.AuditID != "" {
		d.mu.Lock()
		switch ev.Stage {
		case "ResponseStarted":
			if len(d.started) >= maxStarted {
				clear(d.started)
			}
			for _, m := range matches {
				d.started[ev.AuditID] = append(d.started[ev.AuditID], m.Rule.ID)
			}
		case "ResponseComplete", "Panic":
			skip = d.started[ev.AuditID]
			delete(d.started, ev.AuditID)
		}
		d.mu.Unlock()
	}
	var ctx *detect.Context
	facts := KeyFacts(ev)
	t := ev.Time()
	for _, m := range matches {
		if contains(skip, m.Rule.ID) {
			continue
		}
		if ctx == nil {
			c := d.enricher.Context(ev)
			ctx = &c
		}
		a := detect.NewAlert(m, SourceName, t, facts, *ctx)
		a.Object = objectOf(ev)
		a.Location = loc
		d.out.Alert(a)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// objectOf names what an event acted on: its resource (with subresource)
// as the kind, or the URL path of a non-resource request.
func objectOf(ev *Event) k8s.Ref {
	r := ev.ObjectRef
	if r == nil {
		path := ev.RequestURI
		for i := 0; i < len(path); i++ {
			if path[i] == '?' {
				path = path[:i]
				break
			}
		}
		return k8s.Ref{Kind: "URL", Name: path}
	}
	kind := r.Resource
	if r.Subresource != "" {
		kind += "/" + r.Subresource
	}
	av := r.APIVersion
	if r.APIGroup != "" {
		av = r.APIGroup + "/" + r.APIVersion
	}
	return k8s.Ref{APIVersion: av, Kind: kind, Namespace: r.Namespace, Name: r.Name}
}
