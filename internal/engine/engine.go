package engine

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/report"
)

// Engine evaluates a fixed set of controls.
type Engine struct {
	controls   []*control.Control
	byKind     map[string][]int // kind -> indexes of per-object controls restricted to kinds
	anyKind    []int            // per-object controls for every kind
	cross      []int
	settings   *control.Settings
	exceptions []Exception
	frameworks []*framework.Framework
	now        func() time.Time
	workers    int
	version    string
}

// Option configures an Engine.
type Option func(*Engine)

// WithSettings sets the check settings.
func WithSettings(s *control.Settings) Option { return func(e *Engine) { e.settings = s } }

// WithExceptions sets the configured exceptions.
func WithExceptions(x []Exception) Option { return func(e *Engine) { e.exceptions = x } }

// WithFrameworks sets the frameworks to score.
func WithFrameworks(f []*framework.Framework) Option {
	return func(e *Engine) { e.frameworks = f }
}

// WithClock sets the clock used for exception expiry.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithWorkers sets the decode and evaluation parallelism.
func WithWorkers(n int) Option {
	return func(e *Engine) {
		if n > 0 {
			e.workers = n
		}
	}
}

// WithVersion sets the tool version written into results.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// New returns an Engine running controls.
func New(controls []*control.Control, opts ...Option) *Engine {
	e := &Engine{
		controls: controls,
		byKind:   map[string][]int{},
		settings: &control.Settings{},
		now:      time.Now,
		workers:  runtime.GOMAXPROCS(0),
		version:  "dev",
	}
	for _, o := range opts {
		o(e)
	}
	for i, c := range controls {
		switch {
		case c.Cross != nil:
			e.cross = append(e.cross, i)
		case len(c.Kinds) == 0:
			e.anyKind = append(e.anyKind, i)
		default:
			for _, k := range c.Kinds {
				e.byKind[k] = append(e.byKind[k], i)
			}
		}
	}
	return e
}

// Session accumulates one scan. Add and AddError are safe for concurrent use.
type Session struct {
	e   *Engine
	inv *k8s.Inventory

	mu       sync.Mutex
	findings []report.Finding
	errors   []report.InputError
	files    int
	evals    [][]int // per control index: evaluated object IDs
	failed   []map[int]bool
	excepted []map[int]bool
}

// NewSession starts a scan.
func (e *Engine) NewSession() *Session {
	n := len(e.controls)
	s := &Session{e: e, inv: k8s.NewInventory(), evals: make([][]int, n), failed: make([]map[int]bool, n), excepted: make([]map[int]bool, n)}
	for i := range n {
		s.failed[i] = map[int]bool{}
		s.excepted[i] = map[int]bool{}
	}
	return s
}

// Inventory returns the session's inventory.
func (s *Session) Inventory() *k8s.Inventory { return s.inv }

// AddError records an input problem.
func (s *Session) AddError(err load.InputError) {
	s.mu.Lock()
	s.errors = append(s.errors, report.InputError{File: err.File, Line: err.Line, Message: err.Message})
	s.mu.Unlock()
}

// AddFile counts one input read.
func (s *Session) AddFile() {
	s.mu.Lock()
	s.files++
	s.mu.Unlock()
}

type evaluated struct {
	ctl        int
	violations []control.Violation
	err        error
}

// Add evaluates the per-object controls on obj and records it in the
// inventory. The object's YAML node is released afterwards.
func (s *Session) Add(obj *k8s.Object) {
	entry := k8s.EntryFor(obj)
	ctx := control.Context{Obj: obj, Settings: s.e.settings}
	var results []evaluated
	run := func(idx []int) {
		for _, i := range idx {
			c := s.e.controls[i]
			if c.Match != nil && !c.Match(obj) {
				continue
			}
			ctx.Violations = ctx.Violations[:0]
			err := safeCheck(c, &ctx)
			var vs []control.Violation
			if len(ctx.Violations) > 0 {
				vs = slices.Clone(ctx.Violations)
			}
			results = append(results, evaluated{ctl: i, violations: vs, err: err})
		}
	}
	run(s.e.byKind[entry.Ref.Kind])
	run(s.e.anyKind)

	// Resolve lines while the node is still attached.
	type located struct {
		ctl  int
		v    control.Violation
		file string
		line int
		err  error
	}
	var locs []located
	for _, r := range results {
		if r.err != nil {
			locs = append(locs, located{ctl: r.ctl, err: r.err, line: obj.Source.Line})
		}
		for _, v := range r.violations {
			file, line := obj.Locate(v.Path)
			locs = append(locs, located{ctl: r.ctl, v: v, file: file, line: line})
		}
	}
	obj.Release()
	ignores := annotationIgnores(entry.Annotations)

	s.inv.Add(entry)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range results {
		s.evals[r.ctl] = append(s.evals[r.ctl], entry.ID)
	}
	for _, l := range locs {
		if l.err != nil {
			s.addFinding(l.ctl, entry, ignores, control.Violation{Message: l.err.Error()}, "", l.line, control.StatusError)
			continue
		}
		s.addFinding(l.ctl, entry, ignores, l.v, l.file, l.line, control.StatusFail)
	}
}

// safeCheck runs a check, turning a panic into an error finding.
func safeCheck(c *control.Control, ctx *control.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("control %s could not evaluate this object: %v", c.ID, r)
		}
	}()
	c.Check(ctx)
	return nil
}

// addFinding applies exceptions and records the finding. s.mu is held.
func (s *Session) addFinding(ci int, e *k8s.Entry, ignores map[string]bool, v control.Violation, file string, line int, status control.Status) {
	c := s.e.controls[ci]
	f := report.Finding{
		Control:     c.ID,
		Title:       c.Title,
		Severity:    c.Severity.String(),
		Status:      string(status),
		Object:      e.Ref,
		Container:   v.Container,
		Path:        v.Path,
		Source:      k8s.Source{File: cmp.Or(file, e.Source.File), Line: line, Origin: e.Source.Origin},
		Message:     v.Message,
		Remediation: c.Remediation,
	}
	if f.Source.Line == 0 {
		f.Source.Line = e.Source.Line
	}
	if status == control.StatusFail {
		if ex := s.exceptionFor(c.ID, e, ignores); ex != nil {
			f.Exception = ex
			if !ex.Expired {
				f.Status = string(control.StatusExcepted)
			}
		}
		if f.Status == string(control.StatusExcepted) {
			if !s.failed[ci][e.ID] {
				s.excepted[ci][e.ID] = true
			}
		} else {
			s.failed[ci][e.ID] = true
			delete(s.excepted[ci], e.ID)
		}
	}
	s.findings = append(s.findings, f)
}

// exceptionFor finds the annotation or config exception for control id on e.
func (s *Session) exceptionFor(id string, e *k8s.Entry, ignores map[string]bool) *report.Exception {
	if ignores[id] {
		return &report.Exception{Source: "annotation", Reason: e.Annotations[AnnotationIgnoreReason]}
	}
	var expired *report.Exception
	now := s.e.now()
	for i := range s.e.exceptions {
		x := &s.e.exceptions[i]
		if !x.matches(id, e.Ref) {
			continue
		}
		if !x.Expired(now) {
			return &report.Exception{Source: "config", Reason: x.Reason, Expires: x.Expires}
		}
		expired = &report.Exception{Source: "config", Reason: x.Reason, Expires: x.Expires, Expired: true}
	}
	return expired
}

// Finish runs the cross-object controls, scores frameworks and returns the
// Result, sorted deterministically.
func (s *Session) Finish() *report.Result {
	for _, i := range s.e.cross {
		c := s.e.controls[i]
		cc := &control.CrossContext{Inv: s.inv, Settings: s.e.settings}
		err := safeCross(c, cc)
		s.mu.Lock()
		for _, e := range cc.Evaluated {
			s.evals[i] = append(s.evals[i], e.ID)
			ign := annotationIgnores(e.Annotations)
			for _, v := range cc.Violations[e.ID] {
				line := e.Line(v.Path)
				s.addFinding(i, e, ign, v, "", line, control.StatusFail)
			}
		}
		if err != nil {
			s.errors = append(s.errors, report.InputError{File: "(control " + c.ID + ")", Message: err.Error()})
		}
		s.mu.Unlock()
	}
	return s.result()
}

func safeCross(c *control.Control, cc *control.CrossContext) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cross-object evaluation failed: %v", r)
		}
	}()
	c.Cross(cc)
	return nil
}

func (s *Session) result() *report.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.inv.Entries()
	// Stable object order: by file, line, then ref.
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ea, eb := entries[a], entries[b]
		return cmp.Or(cmp.Compare(ea.Source.File, eb.Source.File), cmp.Compare(ea.Source.Line, eb.Source.Line),
			cmp.Compare(ea.Ref.String(), eb.Ref.String()))
	})
	newID := make([]int, len(entries))
	objects := make([]report.ObjectRecord, len(entries))
	for n, old := range order {
		newID[old] = n
		objects[n] = report.ObjectRecord{Ref: entries[old].Ref, Source: entries[old].Source}
	}

	r := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "rampart", Version: s.e.version},
		Findings:      s.findings,
		Errors:        s.errors,
		Objects:       objects,
	}
	if r.Findings == nil {
		r.Findings = []report.Finding{}
	}
	if r.Errors == nil {
		r.Errors = []report.InputError{}
	}
	sortFindings(r.Findings)
	slices.SortFunc(r.Errors, func(a, b report.InputError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Message, b.Message))
	})

	tallies := map[string]report.ControlResult{}
	for i, c := range s.e.controls {
		ids := make([]int, len(s.evals[i]))
		for j, id := range s.evals[i] {
			ids[j] = newID[id]
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		cr := report.ControlResult{ID: c.ID, Title: c.Title, Severity: c.Severity.String(),
			Evaluated: len(ids), Failed: len(s.failed[i]), Excepted: len(s.excepted[i]), Objects: ids}
		tallies[c.ID] = cr
		r.Controls = append(r.Controls, cr)
	}
	r.Frameworks = scoreFrameworks(s.e.frameworks, tallies)
	r.Summary = summarize(r, s.files, len(s.e.controls))
	return r
}

// sortFindings orders findings worst first, then by location.
func sortFindings(fs []report.Finding) {
	rank := func(sev string) int {
		v, err := control.ParseSeverity(sev)
		if err != nil {
			return -1
		}
		return int(v)
	}
	slices.SortStableFunc(fs, func(a, b report.Finding) int {
		return cmp.Or(
			cmp.Compare(rank(b.Severity), rank(a.Severity)),
			cmp.Compare(a.Source.File, b.Source.File),
			cmp.Compare(a.Source.Line, b.Source.Line),
			cmp.Compare(a.Control, b.Control),
			cmp.Compare(a.Object.String(), b.Object.String()),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Container, b.Container),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// scoreFrameworks scores each framework. An item passes when none of its
// controls has a failing object, fails otherwise, and is skipped (left out
// of the score) when its controls were not selected or applied to no object:
// a scan of Deployments says nothing about API server flags.
func scoreFrameworks(fws []*framework.Framework, tallies map[string]report.ControlResult) []report.FrameworkScore {
	out := []report.FrameworkScore{}
	for _, f := range fws {
		fs := report.FrameworkScore{ID: f.ID, Name: f.Name, Version: f.Version, Items: []report.FrameworkItem{}}
		for _, it := range f.Items {
			item := report.FrameworkItem{ID: it.ID, Name: it.Name, Controls: it.Controls, Status: string(control.StatusSkip)}
			selected, evaluated := false, 0
			for _, c := range it.Controls {
				t, ok := tallies[c]
				if !ok {
					continue
				}
				selected = true
				evaluated += t.Evaluated
				item.Failed += t.Failed
			}
			if !selected {
				continue
			}
			switch {
			case item.Failed > 0:
				item.Status = string(control.StatusFail)
				fs.Failed++
				fs.Controls++
			case evaluated > 0:
				item.Status = string(control.StatusPass)
				fs.Passed++
				fs.Controls++
			}
			fs.Items = append(fs.Items, item)
		}
		if fs.Controls > 0 {
			fs.Score = float64(int(float64(fs.Passed)*1000/float64(fs.Controls)+0.5)) / 10
		}
		out = append(out, fs)
	}
	return out
}

func summarize(r *report.Result, files, controls int) report.Summary {
	sm := report.Summary{Files: files, Objects: len(r.Objects), Controls: controls, Findings: len(r.Findings),
		ByStatus: map[string]int{}, BySeverity: map[string]int{}, Errors: len(r.Errors)}
	for _, f := range r.Findings {
		sm.ByStatus[f.Status]++
		if f.Status == string(control.StatusFail) {
			sm.BySeverity[f.Severity]++
		}
	}
	return sm
}

// FilterSeverity drops findings, and the tallies of controls, below min
// from r and recounts the summary. Framework scores are unchanged.
func FilterSeverity(r *report.Result, min control.Severity) {
	keep := func(sev string) bool {
		v, err := control.ParseSeverity(sev)
		return err == nil && v >= min
	}
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if keep(f.Severity) {
			kept = append(kept, f)
		}
	}
	r.Findings = kept
	controls := r.Controls[:0]
	for _, c := range r.Controls {
		if keep(c.Severity) {
			controls = append(controls, c)
		}
	}
	r.Controls = controls
	r.Summary = summarize(r, r.Summary.Files, r.Summary.Controls)
}

// Scan loads paths with the load package and evaluates them with workers
// running in parallel. It is the whole of a file scan.
func (e *Engine) Scan(ctx context.Context, paths []string, opts load.Options) *report.Result {
	return e.ScanUnits(ctx, opts.Limits, func(emit func(load.Unit), onErr func(load.InputError)) {
		load.Walk(ctx, paths, opts, emit, onErr)
	})
}

// ScanUnits evaluates the units that produce emits (problems it meets go to
// onErr) with workers running in parallel, exactly as Scan does for the
// units of a walk. Benchmarks use it to feed generated units.
func (e *Engine) ScanUnits(ctx context.Context, lim load.Limits, produce func(emit func(load.Unit), onErr func(load.InputError))) *report.Result {
	s := e.NewSession()
	units := make(chan load.Unit, 64)
	go func() {
		defer close(units)
		produce(func(u load.Unit) {
			select {
			case units <- u:
			case <-ctx.Done():
			}
		}, s.AddError)
	}()
	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range units {
				s.ScanUnit(u, lim)
			}
		}()
	}
	wg.Wait()
	return s.Finish()
}

// ScanUnit reads, decodes and evaluates one unit.
func (s *Session) ScanUnit(u load.Unit, lim load.Limits) {
	data, ierr := load.ReadUnit(u, lim)
	if ierr != nil {
		s.AddError(*ierr)
		return
	}
	s.AddFile()
	for _, err := range load.Decode(u, data, lim, s.Add) {
		s.AddError(err)
	}
}
