// Package json writes the Result as Rampart's stable JSON report
// (schema/report.schema.json).
package json

import (
	"encoding/json"
	"io"

	"github.com/rampart-dev/rampart/internal/report"
)

// Writer writes the JSON report.
type Writer struct{}

var _ report.Writer = Writer{}

// Write renders r as indented JSON. Absent lists and maps are written as
// empty ones, never null, as the schema requires.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(normalize(r))
}

// normalize returns a shallow copy of r with nil slices and maps made empty.
func normalize(r *report.Result) *report.Result {
	c := *r
	if c.Findings == nil {
		c.Findings = []report.Finding{}
	}
	if c.Errors == nil {
		c.Errors = []report.InputError{}
	}
	if c.Controls == nil {
		c.Controls = []report.ControlResult{}
	}
	if c.Summary.ByStatus == nil {
		c.Summary.ByStatus = map[string]int{}
	}
	if c.Summary.BySeverity == nil {
		c.Summary.BySeverity = map[string]int{}
	}
	c.Frameworks = make([]report.FrameworkScore, len(r.Frameworks))
	for i, f := range r.Frameworks {
		if f.Items == nil {
			f.Items = []report.FrameworkItem{}
		}
		items := make([]report.FrameworkItem, len(f.Items))
		for j, it := range f.Items {
			if it.Controls == nil {
				it.Controls = []string{}
			}
			items[j] = it
		}
		f.Items = items
		c.Frameworks[i] = f
	}
	return &c
}
