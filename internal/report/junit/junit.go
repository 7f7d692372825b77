// Package junit writes the Result as JUnit XML for CI systems: one
// testsuite per control, one testcase per object the control evaluated
// (failure, skipped when excepted, error when it could not be evaluated),
// and a testsuite "input-errors" for inputs that could not be read.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// InputErrorsSuite names the testsuite holding input errors.
const InputErrorsSuite = "input-errors"

// Writer writes JUnit XML.
type Writer struct{}

var _ report.Writer = Writer{}

type testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Suites   []testsuite `xml:"testsuite"`
}

type testsuite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Properties []property `xml:"properties>property,omitempty"`
	Cases      []testcase `xml:"testcase"`
}

type property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type testcase struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	File      string   `xml:"file,attr,omitempty"`
	Line      string   `xml:"line,attr,omitempty"`
	Failure   *outcome `xml:"failure,omitempty"`
	Error     *outcome `xml:"error,omitempty"`
	Skipped   *outcome `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

type outcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// objectKey identifies an object across findings and Result.Objects.
func objectKey(ref fmt.Stringer, apiVersion, file string) string {
	return apiVersion + "\x00" + ref.String() + "\x00" + file
}

// Write renders r as JUnit XML.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	// Findings by control, then by object.
	type group struct{ findings []report.Finding }
	byControl := map[string]map[string]*group{}
	var order []string // controls in first-seen order, for findings of controls not in r.Controls
	for _, f := range r.Findings {
		m := byControl[f.Control]
		if m == nil {
			m = map[string]*group{}
			byControl[f.Control] = m
			order = append(order, f.Control)
		}
		k := objectKey(f.Object, f.Object.APIVersion, f.Source.File)
		if m[k] == nil {
			m[k] = &group{}
		}
		m[k].findings = append(m[k].findings, f)
	}
	doc := testsuites{Name: "rampart"}
	seen := map[string]bool{}
	addSuite := func(id, title, sev string, objects []int32) {
		seen[id] = true
		ts := testsuite{Name: id, Properties: []property{{Name: "title", Value: title}, {Name: "severity", Value: sev}}}
		used := map[string]bool{}
		for _, oi := range objects {
			if oi < 0 || int(oi) >= len(r.Objects) {
				continue
			}
			o := r.Objects[oi]
			k := objectKey(o.Ref, o.Ref.APIVersion, o.Source.File)
			used[k] = true
			var fs []report.Finding
			if g := byControl[id][k]; g != nil {
				fs = g.findings
			}
			ts.Cases = append(ts.Cases, testCase(id, o.Ref.String(), o.Source, fs))
		}
		// Findings on objects the control did not list still get a testcase.
		for _, f := range r.Findings {
			if f.Control != id {
				continue
			}
			k := objectKey(f.Object, f.Object.APIVersion, f.Source.File)
			if used[k] {
				continue
			}
			used[k] = true
			ts.Cases = append(ts.Cases, testCase(id, f.Object.String(), f.Source, byControl[id][k].findings))
		}
		for _, c := range ts.Cases {
			ts.Tests++
			switch {
			case c.Error != nil:
				ts.Errors++
			case c.Failure != nil:
				ts.Failures++
			case c.Skipped != nil:
				ts.Skipped++
			}
		}
		doc.Suites = append(doc.Suites, ts)
	}
	for _, c := range r.Controls {
		addSuite(c.ID, c.Title, c.Severity, c.Objects)
	}
	for _, id := range order {
		if !seen[id] {
			for _, f := range r.Findings {
				if f.Control == id {
					addSuite(id, f.Title, f.Severity, nil)
					break
				}
			}
		}
	}
	if len(r.Errors) > 0 {
		ts := testsuite{Name: InputErrorsSuite}
		for _, e := range r.Errors {
			name := e.File
			line := ""
			if e.Line > 0 {
				line = strconv.Itoa(e.Line)
				name += ":" + line
			}
			ts.Cases = append(ts.Cases, testcase{Name: name, Classname: InputErrorsSuite, File: e.File, Line: line,
				Error: &outcome{Message: e.Message, Type: "input-error", Text: name + ": " + e.Message}})
			ts.Tests++
			ts.Errors++
		}
		doc.Suites = append(doc.Suites, ts)
	}
	for _, ts := range doc.Suites {
		doc.Tests += ts.Tests
		doc.Failures += ts.Failures
		doc.Errors += ts.Errors
		doc.Skipped += ts.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// testCase builds the testcase of control id on one object from its
// findings: an evaluation error wins over failures, failures over
// exceptions; warnings only add system-out; no finding is a pass.
func testCase(id, name string, src k8s.Source, fs []report.Finding) testcase {
	tc := testcase{Name: name, Classname: id, File: src.File}
	if src.Line > 0 {
		tc.Line = strconv.Itoa(src.Line)
	}
	var errs, fails, excepted, warns, skips []report.Finding
	for _, f := range fs {
		switch f.Status {
		case "error":
			errs = append(errs, f)
		case "excepted":
			excepted = append(excepted, f)
		case "warn":
			warns = append(warns, f)
		case "pass":
			// Audits report passes; a testcase without outcome is a pass.
		case "manual", "not-applicable":
			skips = append(skips, f)
		default:
			fails = append(fails, f)
		}
	}
	if len(warns) > 0 {
		// Warnings do not fail the test, as they do not fail the scan.
		tc.SystemOut = "warning: " + details(warns)
	}
	switch {
	case len(errs) > 0:
		tc.Error = &outcome{Message: errs[0].Message, Type: "evaluation-error", Text: details(errs)}
	case len(fails) > 0:
		first := fails[0]
		if first.Source.Line > 0 {
			tc.Line = strconv.Itoa(first.Source.Line)
		}
		msg := first.Message
		if len(fails) > 1 {
			msg = fmt.Sprintf("%s (and %d more)", msg, len(fails)-1)
		}
		tc.Failure = &outcome{Message: msg, Type: first.Severity, Text: details(fails) + "\n" + strings.TrimSpace(first.Remediation)}
	case len(excepted) > 0:
		x := excepted[0].Exception
		msg := "excepted"
		if x != nil {
			msg = "excepted by " + x.Source
			if x.Reason != "" {
				msg += ": " + x.Reason
			}
		}
		tc.Skipped = &outcome{Message: msg}
	case len(skips) > 0:
		msg := skips[0].Status
		if skips[0].Message != "" {
			msg += ": " + skips[0].Message
		}
		tc.Skipped = &outcome{Message: msg}
	}
	return tc
}

// details lists findings as "file:line path: message" lines.
func details(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Source.File)
		if f.Source.Line > 0 {
			b.WriteString(":" + strconv.Itoa(f.Source.Line))
		}
		if f.Path != "" {
			b.WriteString(" " + f.Path)
		}
		if f.Exception != nil && f.Exception.Expired {
			b.WriteString(" (exception expired on " + f.Exception.Expires + ")")
		}
		b.WriteString(": " + f.Message + "\n")
	}
	return b.String()
}
