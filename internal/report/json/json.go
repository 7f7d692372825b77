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

// Write renders r as indented JSON.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
