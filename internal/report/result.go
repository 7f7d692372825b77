package report

import (
	"io"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// SchemaVersion is the version of the JSON report schema.
const SchemaVersion = "1"

// Finding is the outcome of one control on one object, other than a plain pass.
type Finding struct {
	// Control is the control ID.
	Control string `json:"control"`
	// Title is the control's title.
	Title string `json:"title"`
	// Severity is the control's severity name.
	Severity string `json:"severity"`
	// Status is fail, warn, excepted or error (passes are counted in
	// Controls); audits (rampart node, rampart probe) also report pass,
	// manual and not-applicable results as findings, with their evidence.
	Status string `json:"status"`
	// Object identifies the object.
	Object k8s.Ref `json:"object"`
	// Container names the container concerned, if any.
	Container string `json:"container,omitempty"`
	// Path is the offending field path inside the object.
	Path string `json:"path,omitempty"`
	// Source is the file and line of the offending field.
	Source k8s.Source `json:"source"`
	// Message says what is wrong. Secret values are never included.
	Message string `json:"message"`
	// Remediation says how to fix it.
	Remediation string `json:"remediation"`
	// Exception explains why a finding is excepted (or that its exception expired).
	Exception *Exception `json:"exception,omitempty"`
	// Evidence is what proved an audit result (rampart node, rampart
	// probe); nil for scans.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Evidence is what proved an audit result: the value observed and where it
// came from.
type Evidence struct {
	// Value is what was observed: a flag or configuration value, a file's
	// mode or owner, an HTTP status and the response field that proves it.
	// Secret values are never included.
	Value string `json:"value,omitempty"`
	// Origin says where Value came from: flag, file, default, stat,
	// response or absent.
	Origin string `json:"origin"`
	// Location is what was read: a process (/proc/PID/cmdline), a file or
	// an endpoint URL.
	Location string `json:"location,omitempty"`
}

// Exception records the exception that matched a finding.
type Exception struct {
	// Source is "annotation" or "config".
	Source string `json:"source"`
	// Reason is the user's justification.
	Reason string `json:"reason,omitempty"`
	// Expires is the expiry date (YYYY-MM-DD), if any.
	Expires string `json:"expires,omitempty"`
	// Expired is true when the exception no longer applies.
	Expired bool `json:"expired,omitempty"`
}

// InputError is a problem with one input; the rest of the scan went on.
type InputError struct {
	// File is the input's path.
	File string `json:"file"`
	// Line is the line of the problem, when known.
	Line int `json:"line,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// ControlResult is the tally of one control across the scan.
type ControlResult struct {
	// ID is the control ID.
	ID string `json:"id"`
	// Title is the control title.
	Title string `json:"title"`
	// Severity is the control's severity.
	Severity string `json:"severity"`
	// Evaluated counts the objects the control applied to.
	Evaluated int `json:"evaluated"`
	// Failed counts the objects with at least one failing finding.
	Failed int `json:"failed"`
	// Excepted counts the objects whose findings were all excepted.
	Excepted int `json:"excepted"`
	// Objects lists the IDs (indexes into Result.Objects) of evaluated objects.
	Objects []int32 `json:"-"`
}

// Passed counts the evaluated objects with no failing or excepted finding.
func (c ControlResult) Passed() int { return c.Evaluated - c.Failed - c.Excepted }

// FrameworkScore is the score of one framework.
type FrameworkScore struct {
	// ID is the framework ID.
	ID string `json:"id"`
	// Name is the framework's name.
	Name string `json:"name"`
	// Version is the framework version.
	Version string `json:"version"`
	// Score is the percentage of the framework's scored controls with no
	// failing object. Controls that applied to no object are not scored.
	Score float64 `json:"score"`
	// Controls counts the framework's scored controls (Passed + Failed).
	Controls int `json:"controls"`
	// Passed counts the framework's controls with no failing object.
	Passed int `json:"passed"`
	// Failed counts the framework's controls with a failing object.
	Failed int `json:"failed"`
	// Items lists each framework control with its verdict.
	Items []FrameworkItem `json:"items"`
}

// Percent is passed out of total as a percentage rounded to one decimal
// (a framework's Score); 0 when total is 0.
func Percent(passed, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(int(float64(passed)*1000/float64(total)+0.5)) / 10
}

// FrameworkItem is the verdict on one framework control.
type FrameworkItem struct {
	// ID is the framework's identifier for the control.
	ID string `json:"id"`
	// Name is the framework's title for it.
	Name string `json:"name"`
	// Controls are the Rampart controls that check it.
	Controls []string `json:"controls"`
	// Status is pass, fail, or skip when its controls applied to no object.
	Status string `json:"status"`
	// Failed counts failing objects across its controls.
	Failed int `json:"failed"`
}

// Summary counts the scan's outcome.
type Summary struct {
	// Files counts inputs read (files, chart templates, overlays).
	Files int `json:"files"`
	// Objects counts Kubernetes objects scanned.
	Objects int `json:"objects"`
	// Controls counts controls run.
	Controls int `json:"controls"`
	// Findings counts reported findings (after the severity filter).
	Findings int `json:"findings"`
	// ByStatus counts findings by status.
	ByStatus map[string]int `json:"byStatus"`
	// BySeverity counts failing findings by severity.
	BySeverity map[string]int `json:"bySeverity"`
	// Errors counts input errors.
	Errors int `json:"errors"`
}

// Result is everything one scan produced.
type Result struct {
	// SchemaVersion is the report schema version.
	SchemaVersion string `json:"schemaVersion"`
	// Tool names the producer and its version.
	Tool Tool `json:"tool"`
	// Findings are sorted by severity (worst first), file, line and control.
	Findings []Finding `json:"findings"`
	// Errors are the input problems.
	Errors []InputError `json:"errors"`
	// Summary counts the outcome.
	Summary Summary `json:"summary"`
	// Frameworks are the framework scores.
	Frameworks []FrameworkScore `json:"frameworks"`
	// Controls tallies each control that ran.
	Controls []ControlResult `json:"controls"`
	// Objects lists the scanned objects; Finding and ControlResult refer to them.
	Objects []ObjectRecord `json:"-"`
}

// ObjectRecord is one scanned object.
type ObjectRecord struct {
	// Ref identifies the object.
	Ref k8s.Ref
	// Source is where it came from.
	Source k8s.Source
}

// Tool identifies the producer of a report.
type Tool struct {
	// Name is "rampart".
	Name string `json:"name"`
	// Version is the build version.
	Version string `json:"version"`
}

// Options are what writers may be told beyond the Result.
type Options struct {
	// Color enables ANSI colour (table only).
	Color bool
	// Width is the terminal width for the table writer; 0 means 80.
	Width int
}

// Writer renders a Result in one format.
type Writer interface {
	// Write renders r to w.
	Write(w io.Writer, r *Result, opts Options) error
}
