// Package audit turns the results of Rampart's audits of live components
// (rampart node: CIS checks of the node's processes and files; rampart
// probe: what the network sees) into the same report.Result that scans
// produce, so that every report format works for them unchanged.
//
// An audit has checks (control IDs with a title, severity and remediation,
// and the framework item each one implements) and results (the outcome of
// one check on one target: a component instance, a file or an endpoint).
// Unlike a scan, an audit reports every result as a finding, passes
// included, each with the Evidence that decided it: a CIS audit that shows
// only failures cannot be told apart from one that checked nothing.
package audit

import (
	"cmp"
	"slices"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// Check is one audit check.
type Check struct {
	// ID is the control ID (kebab-case; node checks are cis-<CIS ID>).
	ID string
	// Title is a short human name.
	Title string
	// Severity is how bad a failure is.
	Severity control.Severity
	// Remediation says how to fix a failure.
	Remediation string
	// Item is the framework item the check implements (a CIS ID such as
	// 1.2.1, or a kube-hunter KHV ID); empty when it implements none.
	Item string
	// ItemName is the framework's title for Item; Title when empty.
	ItemName string
}

// Result is the outcome of one check on one target.
type Result struct {
	// Check is the check that ran.
	Check *Check
	// Target identifies what was checked, e.g. {Kind: "Process", Name:
	// "kube-apiserver"} or {Kind: "Endpoint", Name: "https://10.0.0.1:10250"}.
	Target k8s.Ref
	// Source is where the deciding value was read (a file, or the endpoint).
	Source k8s.Source
	// Status is pass, fail, warn, manual, not-applicable or error.
	Status control.Status
	// Severity overrides the check's severity when not zero.
	Severity control.Severity
	// Message says what was found, in one sentence. Never a secret value.
	Message string
	// Evidence is what decided the result.
	Evidence *report.Evidence
}

// Framework names the framework an audit's checks implement.
type Framework struct {
	// ID is the framework ID, e.g. cis-node.
	ID string
	// Name is the framework's name.
	Name string
	// Version is the framework's version.
	Version string
}

// Build assembles the report of an audit: one finding per result (sorted
// worst first, then by check and target), a tally per check in the order
// checks are given, the framework score over its items, and errs.
//
// A framework item's status is fail when any of its results failed, else
// pass when any passed, else the first of warn, manual, error and
// not-applicable that occurs; only pass and fail items are scored.
func Build(version string, fw Framework, checks []*Check, results []Result, errs []report.InputError) *report.Result {
	r := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "rampart", Version: version},
		Findings:      make([]report.Finding, 0, len(results)),
		Errors:        errs,
	}
	targets := map[k8s.Ref]int32{}
	objectID := func(res Result) int32 {
		id, ok := targets[res.Target]
		if !ok {
			id = int32(len(r.Objects))
			targets[res.Target] = id
			r.Objects = append(r.Objects, report.ObjectRecord{Ref: res.Target, Source: res.Source})
		}
		return id
	}
	byCheck := map[string][]Result{}
	for _, res := range results {
		byCheck[res.Check.ID] = append(byCheck[res.Check.ID], res)
		sev := res.Check.Severity
		if res.Severity != 0 {
			sev = res.Severity
		}
		r.Findings = append(r.Findings, report.Finding{
			Control:     res.Check.ID,
			Title:       res.Check.Title,
			Severity:    sev.String(),
			Status:      string(res.Status),
			Object:      res.Target,
			Source:      res.Source,
			Message:     res.Message,
			Remediation: res.Check.Remediation,
			Evidence:    res.Evidence,
		})
	}
	slices.SortStableFunc(r.Findings, func(a, b report.Finding) int {
		return cmp.Or(
			cmp.Compare(statusRank(b.Status), statusRank(a.Status)),
			cmp.Compare(sevRank(b.Severity), sevRank(a.Severity)),
			cmp.Compare(a.Control, b.Control),
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Name, b.Object.Name),
			cmp.Compare(a.Source.File, b.Source.File),
		)
	})

	score := report.FrameworkScore{ID: fw.ID, Name: fw.Name, Version: fw.Version, Items: []report.FrameworkItem{}}
	items := map[string]int{}
	for _, c := range checks {
		cr := report.ControlResult{ID: c.ID, Title: c.Title, Severity: c.Severity.String()}
		for _, res := range byCheck[c.ID] {
			if res.Status == control.StatusNotApplicable {
				continue
			}
			cr.Evaluated++
			cr.Objects = append(cr.Objects, objectID(res))
			if res.Status == control.StatusFail {
				cr.Failed++
			}
		}
		r.Controls = append(r.Controls, cr)
		if c.Item == "" {
			continue
		}
		i, ok := items[c.Item]
		if !ok {
			i = len(score.Items)
			items[c.Item] = i
			score.Items = append(score.Items, report.FrameworkItem{ID: c.Item, Name: cmp.Or(c.ItemName, c.Title), Controls: []string{}})
		}
		it := &score.Items[i]
		it.Controls = append(it.Controls, c.ID)
		it.Failed += cr.Failed
		for _, res := range byCheck[c.ID] {
			if itemRank(string(res.Status)) > itemRank(it.Status) {
				it.Status = string(res.Status)
			}
		}
	}
	for i := range score.Items {
		it := &score.Items[i]
		if it.Status == "" {
			it.Status = string(control.StatusNotApplicable)
		}
		switch it.Status {
		case string(control.StatusPass):
			score.Passed++
		case string(control.StatusFail):
			score.Failed++
		}
	}
	score.Controls = score.Passed + score.Failed
	if score.Controls > 0 {
		score.Score = float64(score.Passed) * 100 / float64(score.Controls)
	}
	if fw.ID != "" {
		r.Frameworks = []report.FrameworkScore{score}
	}
	for _, f := range r.Findings {
		objectID(Result{Target: f.Object, Source: f.Source})
	}
	r.Summary = report.Summary{
		Objects: len(r.Objects), Controls: len(checks), Findings: len(r.Findings),
		ByStatus: map[string]int{}, BySeverity: map[string]int{}, Errors: len(r.Errors),
	}
	for _, f := range r.Findings {
		r.Summary.ByStatus[f.Status]++
		if f.Status == string(control.StatusFail) {
			r.Summary.BySeverity[f.Severity]++
		}
	}
	return r
}

// statusRank orders findings: failures first, passes and not-applicable last.
func statusRank(s string) int {
	switch control.Status(s) {
	case control.StatusFail:
		return 6
	case control.StatusError:
		return 5
	case control.StatusWarn:
		return 4
	case control.StatusManual:
		return 3
	case control.StatusPass:
		return 2
	case control.StatusNotApplicable:
		return 1
	}
	return 0
}

// itemRank decides a framework item's status from its results: fail beats
// pass, which beats the statuses that are not scored.
func itemRank(s string) int {
	switch control.Status(s) {
	case control.StatusFail:
		return 6
	case control.StatusPass:
		return 5
	case control.StatusWarn:
		return 4
	case control.StatusManual:
		return 3
	case control.StatusError:
		return 2
	case control.StatusNotApplicable:
		return 1
	}
	return 0
}

func sevRank(s string) int {
	v, err := control.ParseSeverity(s)
	if err != nil {
		return -1
	}
	return int(v)
}
