// Package json writes the Result as Rampart's stable JSON report
// (schema/report.schema.json).
package json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rampart-dev/rampart/internal/report"
)

// Writer writes the JSON report.
type Writer struct{}

var _ report.Writer = Writer{}

// findingsMarker is where the findings array sits in the indented encoding
// of a Result whose findings are empty. Quotes inside JSON strings are
// escaped, so only the top-level key can match.
var findingsMarker = []byte("\n  \"findings\": []")

// Write renders r as indented JSON. Absent lists and maps are written as
// empty ones, never null, as the schema requires. The output is exactly that
// of encoding/json with two-space indentation, but findings are encoded one
// at a time so that memory does not grow with the size of the report.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	head := normalize(r)
	head.Findings = []report.Finding{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		return err
	}
	doc := buf.Bytes()
	i := bytes.Index(doc, findingsMarker)
	if i < 0 {
		return fmt.Errorf("json report: findings key not found")
	}
	cut := i + len(findingsMarker) - 1 // just before the closing ']'
	if len(r.Findings) == 0 {
		_, err := w.Write(doc)
		return err
	}
	if _, err := w.Write(doc[:cut]); err != nil {
		return err
	}
	var item bytes.Buffer
	fenc := json.NewEncoder(&item)
	fenc.SetIndent("    ", "  ")
	fenc.SetEscapeHTML(false)
	for n := range r.Findings {
		item.Reset()
		if n > 0 {
			item.WriteByte(',')
		}
		item.WriteString("\n    ")
		if err := fenc.Encode(&r.Findings[n]); err != nil {
			return err
		}
		item.Truncate(item.Len() - 1) // Encode's trailing newline
		if _, err := w.Write(item.Bytes()); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\n  "); err != nil {
		return err
	}
	_, err := w.Write(doc[cut:])
	return err
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
