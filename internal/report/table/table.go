// Package table writes the Result as human-readable text for terminals:
// findings grouped by severity (worst first) in compact blocks that fit the
// terminal width, input errors, and a closing summary.
package table

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-dev/rampart/internal/report"
)

// DefaultWidth is the width used when Options.Width is 0.
const DefaultWidth = 80

// minWidth is the narrowest layout attempted.
const minWidth = 40

// Writer writes the table report.
type Writer struct{}

var _ report.Writer = Writer{}

// severities lists severity names worst first.
var severities = []string{"critical", "high", "medium", "low", "info"}

// ANSI styles.
const (
	reset = "\x1b[0m"
	bold  = "\x1b[1m"
	dim   = "\x1b[2m"
)

var sevStyle = map[string]string{
	"critical": "\x1b[1;97;41m", // bold white on red
	"high":     "\x1b[1;31m",
	"medium":   "\x1b[33m",
	"low":      "\x1b[36m",
	"info":     "\x1b[34m",
}

type printer struct {
	w     *bufio.Writer
	color bool
	width int
}

func (p *printer) style(s, code string) string {
	if !p.color || code == "" || s == "" {
		return s
	}
	return code + s + reset
}

// Write renders r as text.
func (Writer) Write(w io.Writer, r *report.Result, opts report.Options) error {
	p := &printer{w: bufio.NewWriter(w), color: opts.Color, width: opts.Width}
	if p.width <= 0 {
		p.width = DefaultWidth
	}
	if p.width < minWidth {
		p.width = minWidth
	}
	groups := map[string][]report.Finding{}
	var other []report.Finding // unknown severities, kept last
	for _, f := range r.Findings {
		if _, ok := sevStyle[f.Severity]; ok {
			groups[f.Severity] = append(groups[f.Severity], f)
		} else {
			other = append(other, f)
		}
	}
	if len(r.Findings) == 0 {
		p.line(p.style("No findings.", bold))
	}
	first := true
	for _, sev := range severities {
		for _, f := range groups[sev] {
			if !first {
				p.line("")
			}
			first = false
			p.finding(f)
		}
	}
	for _, f := range other {
		if !first {
			p.line("")
		}
		first = false
		p.finding(f)
	}
	if len(r.Errors) > 0 {
		p.line("")
		p.line(p.style(fmt.Sprintf("Input errors (%d):", len(r.Errors)), bold))
		for _, e := range r.Errors {
			p.wrapped("  "+p.location(e.File, e.Line)+"  ", "    ", clean(e.Message), "")
		}
	}
	p.line("")
	p.summary(r)
	return p.w.Flush()
}

// finding writes one block:
//
//	SEVERITY control-id  Kind/ns/name (container)
//	  file:line  message
func (p *printer) finding(f report.Finding) {
	sev := strings.ToUpper(clean(f.Severity))
	head := clean(f.Object.String())
	if f.Container != "" {
		head += " (" + clean(f.Container) + ")"
	}
	tag := ""
	switch f.Status {
	case "fail", "":
	case "excepted":
		tag = " [excepted]"
	default:
		tag = " [" + clean(f.Status) + "]"
	}
	lead := p.style(sev, sevStyle[f.Severity]) + " " + p.style(clean(f.Control), bold) + p.style(tag, dim)
	budget := p.width - utf8.RuneCountInString(sev+" "+clean(f.Control)+tag+"  ")
	if budget >= 12 {
		p.line(lead + "  " + truncate(head, budget))
	} else {
		p.line(lead)
		p.line("  " + truncate(head, p.width-2))
	}

	p.wrapped("  "+p.location(f.Source.File, f.Source.Line)+"  ", "    ", clean(f.Message), "")
	if x := f.Exception; x != nil {
		note := "excepted by " + x.Source
		if x.Expired {
			note = "exception (" + x.Source + ") expired on " + x.Expires
		}
		if x.Reason != "" {
			note += ": " + x.Reason
		}
		p.wrapped("    ", "    ", clean(note), dim)
	}
	if x := f.Evidence; x != nil {
		note := "evidence (" + x.Origin
		if x.Location != "" {
			note += ", " + x.Location
		}
		note += ")"
		if x.Value != "" {
			note += ": " + x.Value
		}
		p.wrapped("    ", "    ", clean(note), dim)
	}
}

// wrapped writes prefix+text wrapped at the width; continuation lines start
// with indent. When the prefix leaves too little room the text starts on
// its own line. code styles the text (not the prefix).
func (p *printer) wrapped(prefix, indent, text, code string) {
	first := p.width - utf8.RuneCountInString(prefix)
	rest := p.width - utf8.RuneCountInString(indent)
	if first < 30 && utf8.RuneCountInString(text) > first {
		p.line(strings.TrimRight(prefix, " "))
		prefix, first = indent, rest
	}
	for i, l := range wrap(text, first, rest) {
		if i == 0 {
			p.line(prefix + p.style(l, code))
		} else {
			p.line(indent + p.style(l, code))
		}
	}
}

func (p *printer) line(s string) {
	// A bufio.Writer keeps its first error and Write returns it from Flush.
	_, _ = p.w.WriteString(s)
	_ = p.w.WriteByte('\n')
}

func (p *printer) summary(r *report.Result) {
	sm := r.Summary
	if sm.Files == 0 && sm.Objects > 0 {
		// A cluster scan or an audit of live components: no files.
		p.wrapped("", "  ", fmt.Sprintf("Checked %d %s with %d %s.",
			sm.Objects, plural(sm.Objects, "object", "objects"), sm.Controls, plural(sm.Controls, "control", "controls")), "")
	} else {
		p.wrapped("", "  ", fmt.Sprintf("Scanned %d %s in %d %s with %d %s.",
			sm.Objects, plural(sm.Objects, "object", "objects"), sm.Files, plural(sm.Files, "file", "files"),
			sm.Controls, plural(sm.Controls, "control", "controls")), "")
	}
	var parts []string
	for _, sev := range severities {
		n := sm.BySeverity[sev]
		s := fmt.Sprintf("%d %s", n, sev)
		if n > 0 {
			s = p.style(s, sevStyle[sev])
		}
		parts = append(parts, s)
	}
	extra := []string{fmt.Sprintf("%d excepted", sm.ByStatus["excepted"])}
	if n := sm.ByStatus["warn"]; n > 0 {
		extra = append(extra, fmt.Sprintf("%d %s", n, plural(n, "warning", "warnings")))
	}
	if n := sm.ByStatus["error"]; n > 0 {
		extra = append(extra, fmt.Sprintf("%d evaluation %s", n, plural(n, "error", "errors")))
	}
	extra = append(extra, fmt.Sprintf("%d input %s", sm.Errors, plural(sm.Errors, "error", "errors")))
	for _, st := range []struct{ status, one, many string }{
		{"pass", "passed", "passed"}, {"manual", "manual check", "manual checks"}, {"not-applicable", "not applicable", "not applicable"},
	} {
		if n := sm.ByStatus[st.status]; n > 0 {
			extra = append(extra, fmt.Sprintf("%d %s", n, plural(n, st.one, st.many)))
		}
	}
	p.wrapped("Failing: ", "  ", strings.Join(parts, ", ")+"; "+strings.Join(extra, ", ")+".", "")
	if len(r.Frameworks) > 0 {
		var fw []string
		for _, f := range r.Frameworks {
			if f.Controls == 0 {
				fw = append(fw, fmt.Sprintf("%s n/a", clean(f.Name)))
				continue
			}
			fw = append(fw, fmt.Sprintf("%s %.1f%% (%d/%d)", clean(f.Name), f.Score, f.Passed, f.Controls))
		}
		p.wrapped("Scores: ", "  ", strings.Join(fw, ", ")+".", "")
	}
}

// location renders file:line, eliding the start of paths too long for the
// width so that the file name and line stay visible.
func (p *printer) location(file string, line int) string {
	suffix := ""
	if line > 0 {
		suffix = ":" + strconv.Itoa(line)
	}
	file = clean(file)
	max := p.width - 4 - utf8.RuneCountInString(suffix)
	if r := []rune(file); len(r) > max {
		file = "…" + string(r[len(r)-max+1:])
	}
	return file + suffix
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// clean makes user content safe for a terminal: control characters
// (including ESC, which would let a manifest inject ANSI sequences) are
// shown escaped, and newlines become spaces.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate shortens s to n runes, ending with an ellipsis.
func truncate(s string, n int) string {
	if n < 1 {
		n = 1
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrap splits text into lines, the first at most first runes wide and the
// others at most rest, breaking at spaces and cutting longer words.
func wrap(text string, first, rest int) []string {
	first, rest = max(first, 10), max(rest, 10)
	width := first
	var lines []string
	var cur []rune
	flush := func() {
		lines = append(lines, string(cur))
		cur = nil
		width = rest
	}
	for _, word := range strings.Fields(text) {
		w := []rune(word)
		for len(w) > width {
			if len(cur) > 0 {
				flush()
				continue
			}
			cur = w[:width]
			w = w[width:]
			flush()
		}
		switch {
		case len(w) == 0:
		case len(cur) == 0:
			cur = w
		case len(cur)+1+len(w) <= width:
			cur = append(append(cur, ' '), w...)
		default:
			flush()
			cur = w
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, string(cur))
	}
	return lines
}
