// Package sarif writes the Result as SARIF 2.1.0 for GitHub code scanning
// and other SARIF consumers: one rule per control that ran, one result per
// fail, warn, error or excepted finding (excepted ones carry suppressions),
// and input errors as tool execution notifications.
package sarif

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/report"
)

// SchemaURI is the $schema written into every log.
const SchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// InformationURI is the tool's home page.
const InformationURI = "https://github.com/rampart-dev/rampart"

// SrcRoot is the uriBaseId of every relative artifact location.
const SrcRoot = "%SRCROOT%"

// Writer writes SARIF 2.1.0.
type Writer struct {
	// Lookup returns a control's full metadata (description, references)
	// for the rules; when nil or when it does not know a control, the rule is
	// built from what the Result carries.
	Lookup func(id string) (control.Metadata, bool)
	// BaseDir is the directory artifact URIs are made relative to; empty
	// means the current directory.
	BaseDir string
}

var _ report.Writer = Writer{}

// SecuritySeverity maps a severity name to the numeric security-severity
// GitHub code scanning reads from rule properties.
func SecuritySeverity(sev string) string {
	switch sev {
	case "critical":
		return "9.5"
	case "high":
		return "8.0"
	case "medium":
		return "5.5"
	case "low":
		return "3.0"
	default:
		return "1.0"
	}
}

// Level maps a severity name to a SARIF result level.
func Level(sev string) string {
	switch sev {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	default:
		return "note"
	}
}

type log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []run  `json:"runs"`
}

type run struct {
	Tool        tool         `json:"tool"`
	Invocations []invocation `json:"invocations"`
	Results     []result     `json:"results"`
	ColumnKind  string       `json:"columnKind"`
}

type tool struct {
	Driver driver `json:"driver"`
}

type driver struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	InformationURI string `json:"informationUri"`
	Rules          []rule `json:"rules"`
}

type message struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     message        `json:"shortDescription"`
	FullDescription      message        `json:"fullDescription"`
	Help                 message        `json:"help"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration ruleConfig     `json:"defaultConfiguration"`
	Properties           ruleProperties `json:"properties"`
}

type ruleConfig struct {
	Level string `json:"level"`
}

type ruleProperties struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision"`
	ProblemSeverity  string   `json:"problem.severity"`
}

type invocation struct {
	ExecutionSuccessful        bool           `json:"executionSuccessful"`
	ToolExecutionNotifications []notification `json:"toolExecutionNotifications"`
}

type notification struct {
	Level     string     `json:"level"`
	Message   message    `json:"message"`
	Locations []location `json:"locations,omitempty"`
	// AssociatedRule points to the rule of an evaluation error.
	AssociatedRule *ruleRef `json:"associatedRule,omitempty"`
}

type ruleRef struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Kind                string            `json:"kind"`
	Level               string            `json:"level"`
	Message             message           `json:"message"`
	Locations           []location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Suppressions        []suppression     `json:"suppressions,omitempty"`
	Properties          resultProperties  `json:"properties"`
}

type resultProperties struct {
	Severity  string `json:"severity"`
	Status    string `json:"status"`
	Container string `json:"container,omitempty"`
	Path      string `json:"path,omitempty"`
	Origin    string `json:"origin,omitempty"`
	// ExpiredException describes a config exception that no longer applies.
	ExpiredException string `json:"expiredException,omitempty"`
	// Evidence is what proved an audit result.
	Evidence *report.Evidence `json:"evidence,omitempty"`
}

type suppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

type location struct {
	PhysicalLocation *physicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []logicalLocation `json:"logicalLocations,omitempty"`
}

type physicalLocation struct {
	ArtifactLocation artifactLocation `json:"artifactLocation"`
	Region           *region          `json:"region,omitempty"`
}

type artifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type region struct {
	StartLine int `json:"startLine"`
}

type logicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// Write renders r as a SARIF 2.1.0 log with a single run.
func (wr Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	base := wr.BaseDir
	if base == "" {
		if wd, err := os.Getwd(); err == nil {
			base = wd
		}
	}
	ver := r.Tool.Version
	if ver == "" {
		ver = "dev"
	}
	rn := run{
		Tool:        tool{Driver: driver{Name: "rampart", Version: ver, InformationURI: InformationURI, Rules: []rule{}}},
		Invocations: []invocation{{ExecutionSuccessful: len(r.Errors) == 0, ToolExecutionNotifications: []notification{}}},
		Results:     []result{},
		ColumnKind:  "unicodeCodePoints",
	}
	index := map[string]int{}
	addRule := func(id, title, sev, remediation string) int {
		if i, ok := index[id]; ok {
			return i
		}
		index[id] = len(rn.Tool.Driver.Rules)
		rn.Tool.Driver.Rules = append(rn.Tool.Driver.Rules, wr.rule(id, title, sev, remediation))
		return index[id]
	}
	remByControl := map[string]string{}
	for _, f := range r.Findings {
		if _, ok := remByControl[f.Control]; !ok {
			remByControl[f.Control] = f.Remediation
		}
	}
	for _, c := range r.Controls {
		addRule(c.ID, c.Title, c.Severity, remByControl[c.ID])
	}
	inv := &rn.Invocations[0]
	for _, f := range r.Findings {
		ri := addRule(f.Control, f.Title, f.Severity, f.Remediation)
		res := result{
			RuleID: f.Control, RuleIndex: ri, Kind: "fail", Level: Level(f.Severity),
			Message:             message{Text: resultText(f)},
			Locations:           []location{findingLocation(f, base)},
			PartialFingerprints: map[string]string{"rampartFinding/v1": fingerprint(f)},
			Properties:          resultProperties{Severity: f.Severity, Status: f.Status, Container: f.Container, Path: f.Path, Origin: f.Source.Origin, Evidence: f.Evidence},
		}
		switch f.Status {
		case string(control.StatusPass):
			res.Kind, res.Level = "pass", "none"
		case string(control.StatusNotApplicable):
			res.Kind, res.Level = "notApplicable", "none"
		case string(control.StatusManual):
			// The benchmark says a human must verify it.
			res.Kind, res.Level = "review", "none"
		case string(control.StatusWarn):
			if res.Level == "error" {
				res.Level = "warning"
			}
		case string(control.StatusError):
			// The control could not decide: a human must review the object.
			res.Kind, res.Level = "review", "none"
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, notification{
				Level: "error", Message: message{Text: f.Message}, Locations: res.Locations,
				AssociatedRule: &ruleRef{ID: f.Control, Index: ri},
			})
		}
		if x := f.Exception; x != nil {
			if x.Expired {
				// No suppression at all: some consumers dismiss any result
				// that has one, whatever its status.
				res.Properties.ExpiredException = strings.TrimSpace(fmt.Sprintf("expired on %s: %s", x.Expires, x.Reason))
			} else {
				s := suppression{Kind: "external", Status: "accepted", Justification: x.Reason}
				if x.Source == "annotation" {
					s.Kind = "inSource"
				}
				res.Suppressions = []suppression{s}
			}
		}
		rn.Results = append(rn.Results, res)
	}
	for _, e := range r.Errors {
		n := notification{Level: "error", Message: message{Text: e.Message}}
		if pl := physical(e.File, e.Line, base); pl != nil {
			n.Locations = []location{{PhysicalLocation: pl}}
		} else {
			n.Message.Text = e.File + ": " + e.Message
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log{Schema: SchemaURI, Version: "2.1.0", Runs: []run{rn}})
}

// rule builds the reportingDescriptor of a control.
func (wr Writer) rule(id, title, sev, remediation string) rule {
	md := control.Metadata{ID: id, Title: title, Remediation: remediation}
	if wr.Lookup != nil {
		if m, ok := wr.Lookup(id); ok {
			md = m
		}
	}
	if md.Title == "" {
		md.Title = id
	}
	desc := strings.TrimSpace(md.Description)
	if desc == "" {
		desc = md.Title + "."
	}
	var mdHelp strings.Builder
	fmt.Fprintf(&mdHelp, "**%s** (%s, `%s`)\n\n%s\n", md.Title, sev, id, desc)
	if rem := strings.TrimSpace(md.Remediation); rem != "" {
		fmt.Fprintf(&mdHelp, "\n### Remediation\n\n%s\n", rem)
	}
	if len(md.References) > 0 {
		mdHelp.WriteString("\n### References\n\n")
		for _, ref := range md.References {
			fmt.Fprintf(&mdHelp, "- <%s>\n", ref)
		}
	}
	helpText := desc
	if rem := strings.TrimSpace(md.Remediation); rem != "" {
		helpText += "\n\nRemediation:\n" + rem
	}
	if len(md.References) > 0 {
		helpText += "\n\nReferences:\n" + strings.Join(md.References, "\n")
	}
	tags := []string{"security", "kubernetes"}
	if md.Category != "" {
		tags = append(tags, md.Category)
	}
	ru := rule{
		ID: id, Name: ruleName(id),
		ShortDescription:     message{Text: md.Title},
		FullDescription:      message{Text: desc},
		Help:                 message{Text: helpText, Markdown: mdHelp.String()},
		DefaultConfiguration: ruleConfig{Level: Level(sev)},
		Properties:           ruleProperties{Tags: tags, SecuritySeverity: SecuritySeverity(sev), Precision: "high", ProblemSeverity: problemSeverity(sev)},
	}
	if len(md.References) > 0 {
		ru.HelpURI = md.References[0]
	}
	return ru
}

// problemSeverity is the non-security severity GitHub also reads.
func problemSeverity(sev string) string {
	switch Level(sev) {
	case "error":
		return "error"
	case "warning":
		return "warning"
	default:
		return "recommendation"
	}
}

// ruleName turns a kebab-case ID into an UpperCamelCase rule name.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// resultText is the message of a result: the finding's message, with the
// object it concerns so that it reads well in a code-scanning alert.
func resultText(f report.Finding) string {
	return fmt.Sprintf("%s: %s", f.Object.String(), f.Message)
}

func findingLocation(f report.Finding, base string) location {
	fq := f.Object.String()
	loc := location{PhysicalLocation: physical(f.Source.File, f.Source.Line, base),
		LogicalLocations: []logicalLocation{{Name: f.Object.Name, FullyQualifiedName: fq, Kind: "object"}}}
	if f.Container != "" {
		loc.LogicalLocations = append(loc.LogicalLocations, logicalLocation{Name: f.Container, FullyQualifiedName: fq + "/" + f.Container, Kind: "member"})
	}
	return loc
}

// physical returns the physical location of file:line, or nil for stdin,
// pseudo-files such as "(control id)" and objects or endpoints of a cluster
// scan ("cluster:<context>", "https://server/..."): those have only their
// logical location.
func physical(file string, line int, base string) *physicalLocation {
	if file == "" || file == "-" || strings.HasPrefix(file, "(") || strings.HasPrefix(file, "cluster:") || strings.Contains(file, "://") {
		return nil
	}
	uri, baseID := artifactURI(file, base)
	pl := &physicalLocation{ArtifactLocation: artifactLocation{URI: uri, URIBaseID: baseID}}
	if line >= 1 {
		pl.Region = &region{StartLine: line}
	}
	return pl
}

// artifactURI makes file a URI reference relative to base (with uriBaseId
// %SRCROOT%) when it lies under base or is already relative, and an
// absolute file URI otherwise.
func artifactURI(file, base string) (string, string) {
	p := filepath.Clean(file)
	if filepath.IsAbs(p) {
		if base != "" {
			if rel, err := filepath.Rel(base, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return relURI(rel), SrcRoot
			}
		}
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
		if !strings.HasPrefix(u.Path, "/") {
			u.Path = "/" + u.Path // Windows drive letters
		}
		return u.String(), ""
	}
	return relURI(p), SrcRoot
}

func relURI(p string) string {
	u := url.URL{Path: filepath.ToSlash(p)}
	return u.String()
}

// fingerprint identifies a finding across runs independently of its line.
func fingerprint(f report.Finding) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.Control, f.Object.APIVersion, f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Container, f.Path}, "\x00")))
	return hex.EncodeToString(h[:16])
}
