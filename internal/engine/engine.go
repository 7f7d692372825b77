package engine

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
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
	controls []*control.Control
	byKind   map[string][]int // kind -> indexes of per-object controls restricted to kinds
	anyKind  []int            // per-object controls for every kind
	cross    []int
	// anyMetadataOnly is true when every control for all kinds reads
	// metadata only.
	anyMetadataOnly bool
	settings        *control.Settings
	images          control.ImageIndex
	exceptions      []Exception
	// configExc are the shared, immutable report forms of exceptions.
	configExc  []report.Exception
	frameworks []*framework.Framework
	now        func() time.Time
	workers    int
	version    string
}

// Option configures an Engine.
type Option func(*Engine)

// WithSettings sets the check settings.
func WithSettings(s *control.Settings) Option { return func(e *Engine) { e.settings = s } }

// WithImages gives cross-object controls what is known of the images the
// workloads run (control.CrossContext.Images). The index is read only when
// a session finishes, so it may be filled while objects are added.
func WithImages(x control.ImageIndex) Option { return func(e *Engine) { e.images = x } }

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
	for _, x := range e.exceptions {
		e.configExc = append(e.configExc, report.Exception{Source: "config", Reason: x.Reason, Expires: x.Expires})
	}
	e.anyMetadataOnly = true
	for i, c := range controls {
		if c.Check != nil && len(c.Kinds) == 0 && !c.MetadataOnly {
			e.anyMetadataOnly = false
		}
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

// needBody reports whether objects of this kind must be decoded whole:
// some per-object control reads beyond metadata, or the Inventory keeps
// facts from their body.
func (e *Engine) needBody(_, kind string) bool {
	return len(e.byKind[kind]) > 0 || !e.anyMetadataOnly || k8s.IsPodBearing(kind) || k8s.RetainedKinds[kind]
}

// Session accumulates one scan. Add and AddError are safe for concurrent use.
type Session struct {
	e   *Engine
	inv *k8s.Inventory

	mu       sync.Mutex
	findings chunks // compact until result materializes them
	errors   []report.InputError
	files    int
	// Per control index, IDs of the objects it evaluated, failed on and
	// excepted (with repeats; deduplicated once, in result).
	evals    [][]int32
	failed   [][]int32
	excepted [][]int32
	// strs and strIdx intern the strings of pending findings; excs holds
	// their exceptions.
	strs   []string
	strIdx map[string]int32
	excs   []*report.Exception
}

// NewSession starts a scan.
func (e *Engine) NewSession() *Session {
	n := len(e.controls)
	s := &Session{e: e, inv: k8s.NewInventory(), evals: make([][]int32, n), failed: make([][]int32, n), excepted: make([][]int32, n)}
	s.strs, s.strIdx = []string{""}, map[string]int32{"": 0}
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
		s.evals[r.ctl] = append(s.evals[r.ctl], int32(entry.ID))
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

// pending is a finding as the Session keeps it: compact, referring to its
// control and inventory entry, until result materializes it.
// It holds no pointers, so the garbage collector never scans the chunks:
// strings are indexes into Session.strs, the exception an index (plus one)
// into Session.excs.
type pending struct {
	message, path, container int32
	file                     int32 // set when it differs from the entry's file
	exception                int32
	entry                    int32
	line                     int32
	ctl                      int32
	status                   status
	severity                 control.Severity // effective: the violation's override or the control's
}

// str interns v in the session's string table and returns its index.
// Messages and paths repeat across objects, and a scan keeps hundreds of
// thousands of them. s.mu is held.
func (s *Session) str(v string) int32 {
	if i, ok := s.strIdx[v]; ok {
		return i
	}
	i := int32(len(s.strs))
	s.strs = append(s.strs, v)
	s.strIdx[v] = i
	return i
}

// status is a finding's status in one byte.
type status uint8

const (
	statusFail status = iota
	statusExcepted
	statusError
)

var statusNames = [...]string{statusFail: string(control.StatusFail), statusExcepted: string(control.StatusExcepted), statusError: string(control.StatusError)}

// largeScan is the number of findings above which result returns freed
// memory to the system before building the report.
const largeScan = 100_000

// chunkSize is the number of pending findings per chunk.
const chunkSize = 4096

// chunks stores pending findings without the copying and slack of one
// growing slice.
type chunks struct {
	list [][]pending
	n    int
}

func (c *chunks) add(p pending) {
	if c.n%chunkSize == 0 {
		c.list = append(c.list, make([]pending, 0, chunkSize))
	}
	last := len(c.list) - 1
	c.list[last] = append(c.list[last], p)
	c.n++
}

// addFinding applies exceptions and records the finding. s.mu is held.
func (s *Session) addFinding(ci int, e *k8s.Entry, ignores map[string]bool, v control.Violation, file string, line int, st control.Status) {
	c := s.e.controls[ci]
	if line == 0 {
		line = e.Source.Line
	}
	if file == e.Source.File {
		file = ""
	}
	p := pending{
		message: s.str(v.Message), path: s.str(v.Path), container: s.str(v.Container), file: s.str(file),
		entry: int32(e.ID), line: int32(line), ctl: int32(ci), status: statusError, severity: c.Severity,
	}
	if v.Severity != 0 {
		p.severity = v.Severity
	}
	if st == control.StatusFail {
		p.status = statusFail
		if ex := s.exceptionFor(c.ID, e, ignores); ex != nil {
			s.excs = append(s.excs, ex)
			p.exception = int32(len(s.excs))
			if !ex.Expired {
				p.status = statusExcepted
			}
		}
		if p.status == statusExcepted {
			s.excepted[ci] = append(s.excepted[ci], int32(e.ID))
		} else {
			s.failed[ci] = append(s.failed[ci], int32(e.ID))
		}
	}
	s.findings.add(p)
}

// materialize turns the pending findings into report findings, freeing
// each chunk once converted, and sorts them worst first, then by location.
func (s *Session) materialize(objects []report.ObjectRecord, newID []int32) []report.Finding {
	out := make([]report.Finding, 0, s.findings.n)
	for ci, chunk := range s.findings.list {
		for i := range chunk {
			p := &chunk[i]
			c := s.e.controls[p.ctl]
			e := &objects[newID[p.entry]]
			src := e.Source // keeps Origin and the cluster fields
			src.File, src.Line = cmp.Or(s.strs[p.file], e.Source.File), int(p.line)
			out = append(out, report.Finding{
				Control:     c.ID,
				Title:       c.Title,
				Severity:    p.severity.String(),
				Status:      statusNames[p.status],
				Object:      e.Ref,
				Container:   s.strs[p.container],
				Path:        s.strs[p.path],
				Source:      src,
				Message:     s.strs[p.message],
				Remediation: c.Remediation,
			})
			if p.exception > 0 {
				out[len(out)-1].Exception = s.excs[p.exception-1]
			}
		}
		s.findings.list[ci] = nil
	}
	s.findings, s.strs, s.strIdx, s.excs = chunks{}, nil, nil, nil
	sortFindings(out)
	return out
}

// sortFindings orders findings worst first, then by file, line, control,
// object, path, container and message, then by arrival (so equal findings
// keep their order). It sorts an index and then moves each finding once.
func sortFindings(fs []report.Finding) {
	rank := map[string]int8{}
	for sev := control.SeverityInfo; sev <= control.SeverityCritical; sev++ {
		rank[sev.String()] = int8(sev)
	}
	ranks := make([]int8, len(fs))
	order := make([]int32, len(fs))
	for i := range order {
		order[i] = int32(i)
		ranks[i] = rank[fs[i].Severity]
	}
	// Early returns, not cmp.Or: cmp.Or evaluates every comparison of every
	// call, and most calls are settled by the first one or two keys.
	slices.SortFunc(order, func(x, y int32) int {
		if c := cmp.Compare(ranks[y], ranks[x]); c != 0 {
			return c
		}
		a, b := &fs[x], &fs[y]
		if c := strings.Compare(a.Source.File, b.Source.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Source.Line, b.Source.Line); c != 0 {
			return c
		}
		if c := strings.Compare(a.Control, b.Control); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object.Kind, b.Object.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object.Namespace, b.Object.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object.Name, b.Object.Name); c != 0 {
			return c
		}
		return cmp.Or(
			strings.Compare(a.Path, b.Path),
			strings.Compare(a.Container, b.Container),
			strings.Compare(a.Message, b.Message),
			cmp.Compare(x, y),
		)
	})
	// Apply the permutation in place, cycle by cycle: position i receives
	// the finding that was at order[i].
	for i := range order {
		if order[i] < 0 {
			continue
		}
		tmp := fs[i]
		j := i
		for {
			k := int(order[j])
			order[j] = -1
			if k == i {
				fs[j] = tmp
				break
			}
			fs[j] = fs[k]
			j = k
		}
	}
}

// exceptionFor finds the annotation or config exception for control id on e.
func (s *Session) exceptionFor(id string, e *k8s.Entry, ignores map[string]bool) *report.Exception {
	return s.e.exceptionFor(id, e.Ref, e.Annotations, ignores)
}

// exceptionFor finds the annotation (ignores, with the reason from ann) or
// config exception for control id on the object ref. An expired config
// exception is returned marked Expired when no valid one applies.
func (e *Engine) exceptionFor(id string, ref k8s.Ref, ann map[string]string, ignores map[string]bool) *report.Exception {
	if ignores[id] {
		return &report.Exception{Source: "annotation", Reason: ann[AnnotationIgnoreReason]}
	}
	var expired *report.Exception
	now := e.now()
	for i := range e.exceptions {
		x := &e.exceptions[i]
		if !x.matches(id, ref) {
			continue
		}
		if !x.Expired(now) {
			return &e.configExc[i]
		}
		expired = &report.Exception{Source: "config", Reason: x.Reason, Expires: x.Expires, Expired: true}
	}
	return expired
}

// Finish runs the cross-object controls, scores frameworks and returns the
// Result, sorted deterministically. It ends the session: the Inventory is
// released (Inventory then returns an empty one).
func (s *Session) Finish() *report.Result {
	// Cross-object controls only read the inventory: they run in parallel,
	// and their findings are recorded in control order.
	ccs := make([]*control.CrossContext, len(s.e.cross))
	errs := make([]error, len(s.e.cross))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for n, i := range s.e.cross {
		ccs[n] = &control.CrossContext{Inv: s.inv, Settings: s.e.settings, Images: s.e.images}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[n] = safeCross(s.e.controls[i], ccs[n])
		}()
	}
	wg.Wait()
	for n, i := range s.e.cross {
		c, cc, err := s.e.controls[i], ccs[n], errs[n]
		s.mu.Lock()
		for _, e := range cc.Evaluated {
			s.evals[i] = append(s.evals[i], int32(e.ID))
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
	order := make([]int32, len(entries))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ea, eb := entries[a], entries[b]
		return cmp.Or(cmp.Compare(ea.Source.File, eb.Source.File), cmp.Compare(ea.Source.Line, eb.Source.Line),
			cmp.Compare(ea.Ref.Kind, eb.Ref.Kind), cmp.Compare(ea.Ref.Namespace, eb.Ref.Namespace), cmp.Compare(ea.Ref.Name, eb.Ref.Name))
	})
	newID := make([]int32, len(entries))
	for n, old := range order {
		newID[old] = int32(n)
	}
	objects := make([]report.ObjectRecord, len(entries))
	for n, old := range order {
		objects[n] = report.ObjectRecord{Ref: entries[old].Ref, Source: entries[old].Source}
	}
	// The inventory's work is done: release it before the findings are
	// built, which is when a large scan's memory peaks.
	s.inv = k8s.NewInventory()
	if s.findings.n > largeScan {
		// Building the findings allocates their final form in one piece;
		// give the memory the inventory held back to the system first, so
		// that a large scan's peak is not the sum of both.
		debug.FreeOSMemory()
	}
	findings := s.materialize(objects, newID)

	r := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "rampart", Version: s.e.version},
		Findings:      findings,
		Errors:        s.errors,
		Objects:       objects,
	}
	if r.Errors == nil {
		r.Errors = []report.InputError{}
	}
	slices.SortFunc(r.Errors, func(a, b report.InputError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Message, b.Message))
	})

	tallies := map[string]report.ControlResult{}
	for i, c := range s.e.controls {
		ids := make([]int32, len(s.evals[i]))
		for j, id := range s.evals[i] {
			ids[j] = newID[id]
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		cr := report.ControlResult{ID: c.ID, Title: c.Title, Severity: c.Severity.String(),
			Evaluated: len(ids), Objects: ids}
		failed := uniqueIDs(s.failed[i])
		cr.Failed = len(failed)
		for _, id := range uniqueIDs(s.excepted[i]) {
			if _, found := slices.BinarySearch(failed, id); !found {
				cr.Excepted++
			}
		}
		tallies[c.ID] = cr
		r.Controls = append(r.Controls, cr)
	}
	r.Frameworks = scoreFrameworks(s.e.frameworks, tallies)
	r.Summary = summarize(r, s.files, len(s.e.controls))
	return r
}

// uniqueIDs returns ids sorted without repeats.
func uniqueIDs(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
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
		fs.Score = report.Percent(fs.Passed, fs.Controls)
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
	for _, err := range load.DecodeWith(u, data, lim, s.e.needBody, s.Add) {
		s.AddError(err)
	}
}
