// Package html writes the Result as one self-contained HTML page (inline
// CSS and JavaScript, no external requests): totals, a severity chart,
// framework score bars, a filterable and sortable findings table, and the
// input errors. All user content is escaped by html/template.
package html

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"unicode"

	"github.com/rampart-dev/rampart/internal/report"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f", f) },
}).Parse(pageSource))

// Writer writes the HTML report.
type Writer struct{}

var _ report.Writer = Writer{}

// severities lists severity names worst first.
var severities = []string{"critical", "high", "medium", "low", "info"}

var statuses = []string{"fail", "warn", "excepted", "error"}

// auditStatuses are offered by the status filter when the report has them
// (audits: rampart node, rampart probe).
var auditStatuses = []string{"manual", "pass", "not-applicable"}

type sevBar struct {
	Name  string
	Count int
	// Width is the bar length in percent of the longest bar.
	Width float64
}

type row struct {
	report.Finding
	Rank     int
	Location string
	Object   string
}

type controlInfo struct {
	ID, Title, Severity, Remediation string
	Failed, Excepted, Evaluated      int
}

type view struct {
	R           *report.Result
	Failing     int
	Severity    []sevBar
	Rows        []row
	Controls    []string
	Statuses    []string
	Severities  []string
	Remediation []controlInfo
}

// Write renders r as HTML.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	v := view{R: r, Statuses: statuses, Severities: severities}
	for _, st := range auditStatuses {
		if r.Summary.ByStatus[st] > 0 {
			v.Statuses = append(v.Statuses[:len(v.Statuses):len(v.Statuses)], st)
		}
	}
	max := 0
	for _, s := range severities {
		n := r.Summary.BySeverity[s]
		v.Failing += n
		if n > max {
			max = n
		}
	}
	for _, s := range severities {
		b := sevBar{Name: s, Count: r.Summary.BySeverity[s]}
		if max > 0 {
			b.Width = float64(b.Count) * 100 / float64(max)
		}
		v.Severity = append(v.Severity, b)
	}
	rank := map[string]int{}
	for i, s := range severities {
		rank[s] = len(severities) - i
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		loc := f.Source.File
		if f.Source.Line > 0 {
			loc += fmt.Sprintf(":%d", f.Source.Line)
		}
		f.Message, f.Container, f.Path, f.Title = clean(f.Message), clean(f.Container), clean(f.Path), clean(f.Title)
		if x := f.Evidence; x != nil {
			f.Evidence = &report.Evidence{Value: clean(x.Value), Origin: clean(x.Origin), Location: clean(x.Location)}
		}
		v.Rows = append(v.Rows, row{Finding: f, Rank: rank[f.Severity], Location: clean(loc), Object: clean(f.Object.String())})
		if !seen[f.Control] {
			seen[f.Control] = true
			v.Controls = append(v.Controls, f.Control)
			ci := controlInfo{ID: f.Control, Title: f.Title, Severity: f.Severity, Remediation: f.Remediation}
			for _, c := range r.Controls {
				if c.ID == f.Control {
					ci.Failed, ci.Excepted, ci.Evaluated = c.Failed, c.Excepted, c.Evaluated
				}
			}
			v.Remediation = append(v.Remediation, ci)
		}
	}
	sort.Strings(v.Controls)
	if len(r.Errors) > 0 {
		rc := *r
		rc.Errors = make([]report.InputError, len(r.Errors))
		for i, e := range r.Errors {
			rc.Errors[i] = report.InputError{File: clean(e.File), Line: e.Line, Message: clean(e.Message)}
		}
		v.R = &rc
	}
	return page.Execute(w, v)
}

// clean replaces control characters, which HTML does not allow, with U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}
