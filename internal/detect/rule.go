package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/oneline"
)

// Rule is one detection rule, as written in YAML.
type Rule struct {
	// ID identifies the rule (kebab-case, stable).
	ID string `yaml:"id" json:"id"`
	// Title is a short human name.
	Title string `yaml:"title" json:"title"`
	// Severity is low, medium, high or critical.
	Severity control.Severity `yaml:"severity" json:"severity"`
	// MITRE lists MITRE ATT&CK technique IDs (T1609, T1552.007, ...).
	MITRE []string `yaml:"mitre" json:"mitre"`
	// Source names the event stream the rule applies to: audit or sensor.
	Source string `yaml:"source" json:"source"`
	// Match is the cheap prefilter evaluated in Go before the condition.
	Match Prefilter `yaml:"match" json:"match"`
	// Condition is a CEL expression over the source's variables; the rule
	// fires when it is true.
	Condition string `yaml:"condition" json:"condition"`
	// Output is the alert message: text with ${expr} placeholders, each a
	// CEL expression over the same variables.
	Output string `yaml:"output" json:"output"`
	// Dedupe says which alerts of the rule are repeats of each other.
	Dedupe Dedupe `yaml:"dedupe" json:"dedupe"`
	// Enabled turns the rule off when false; a user rule with an existing
	// ID and enabled: false disables that rule.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Tags are free-form labels.
	Tags []string `yaml:"tags" json:"tags,omitempty"`
	// Remediation says what to do about an alert (optional).
	Remediation string `yaml:"remediation" json:"remediation,omitempty"`

	// File and Line say where the rule was read.
	File string `yaml:"-" json:"file"`
	// Line is the rule's first line in File.
	Line int `yaml:"-" json:"line"`
}

// IsEnabled reports whether the rule is on (the default).
func (r *Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// where names the rule in errors: file:line: rule ID.
func (r *Rule) where() string {
	loc := r.File
	if r.Line > 0 {
		loc = fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	if r.ID == "" {
		return loc
	}
	return loc + ": rule " + r.ID
}

// Prefilter is a rule's cheap prefilter: every non-empty list must contain
// the event's fact. Audit rules use verbs, resources, subresources and
// namespaces; sensor rules use eventTypes (and namespaces).
type Prefilter struct {
	// Verbs are API verbs (get, list, create, ...).
	Verbs []string `yaml:"verbs" json:"verbs,omitempty"`
	// Resources are API resources (pods, secrets, ...).
	Resources []string `yaml:"resources" json:"resources,omitempty"`
	// Subresources are API subresources (exec, attach, token, ...); ""
	// stands for none.
	Subresources []string `yaml:"subresources" json:"subresources,omitempty"`
	// Namespaces are namespaces.
	Namespaces []string `yaml:"namespaces" json:"namespaces,omitempty"`
	// EventTypes are sensor event types (exec, open, connect, ...).
	EventTypes []string `yaml:"eventTypes" json:"eventTypes,omitempty"`
}

// Dedupe says which alerts of a rule are repeats.
type Dedupe struct {
	// Keys are CEL expressions (a field path such as user.username is
	// one); alerts of a rule with equal key values are repeats. Without
	// keys, alerts with the same output message are repeats.
	Keys []string `yaml:"keys" json:"keys,omitempty"`
	// Cooldown is how long repeats are folded into a count; 0 means the
	// dispatcher's default.
	Cooldown Duration `yaml:"cooldown" json:"cooldown,omitempty"`
}

// Duration is a time.Duration written as "1m", "30s".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: cooldown %q is not a duration like 1m or 30s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// known fields per YAML mapping, for strict decoding.
var (
	ruleFields      = []string{"id", "title", "severity", "mitre", "source", "match", "condition", "output", "dedupe", "enabled", "tags", "remediation"}
	prefilterFields = []string{"verbs", "resources", "subresources", "namespaces", "eventTypes"}
	dedupeFields    = []string{"keys", "cooldown"}
)

// MaxRuleFileSize bounds one rule file.
const MaxRuleFileSize = 4 << 20

// Parse reads rules from YAML: a stream of documents, each one rule (a
// mapping) or a list of rules. Unknown fields are errors; every error names
// name:line.
func Parse(name string, data []byte) ([]Rule, error) {
	if len(data) > MaxRuleFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxRuleFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Rule
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s", name, oneline.Err(err))
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		var items []*yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			items = []*yaml.Node{n}
		case yaml.SequenceNode:
			items = n.Content
		case yaml.ScalarNode:
			if n.Tag == "!!null" {
				continue
			}
			return nil, fmt.Errorf("%s:%d: expected a rule (mapping) or a list of rules", name, n.Line)
		default:
			return nil, fmt.Errorf("%s:%d: expected a rule (mapping) or a list of rules", name, n.Line)
		}
		for _, item := range items {
			r, err := decodeRule(name, item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func decodeRule(name string, n *yaml.Node) (Rule, error) {
	if n.Kind != yaml.MappingNode {
		return Rule{}, fmt.Errorf("%s:%d: a rule must be a mapping", name, n.Line)
	}
	if err := checkFields(name, n, ruleFields, map[string][]string{"match": prefilterFields, "dedupe": dedupeFields}); err != nil {
		return Rule{}, err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "severity" {
			if _, err := control.ParseSeverity(v.Value); err != nil {
				return Rule{}, fmt.Errorf("%s:%d: %w", name, v.Line, err)
			}
		}
	}
	var r Rule
	if err := n.Decode(&r); err != nil {
		return Rule{}, fmt.Errorf("%s:%d: %s", name, n.Line, strings.TrimPrefix(oneline.Err(err), "yaml: "))
	}
	r.File, r.Line = name, n.Line
	return r, nil
}

// checkFields fails on keys of mapping n not in known, and on unknown keys
// of the nested mappings named in nested.
func checkFields(name string, n *yaml.Node, known []string, nested map[string][]string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return fmt.Errorf("%s:%d: unknown field %q (known: %s)", name, k.Line, k.Value, strings.Join(known, ", "))
		}
		if sub, ok := nested[k.Value]; ok {
			if v.Kind != yaml.MappingNode {
				if v.Tag == "!!null" {
					continue
				}
				return fmt.Errorf("%s:%d: %s must be a mapping", name, v.Line, k.Value)
			}
			if err := checkFields(name, v, sub, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadFile reads the rules of one YAML file.
func LoadFile(path string) ([]Rule, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxRuleFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxRuleFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Load reads rules from files and directories (every *.yaml and *.yml
// file directly inside a directory, in name order).
func Load(paths ...string) ([]Rule, error) {
	var out []Rule
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
		files := []string{p}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("--rules: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			rs, err := LoadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}

// Merge returns base with overrides applied: a rule of overrides whose ID
// is already in base replaces it (with enabled: false and nothing else it
// only disables it); other rules are appended. Two rules with one ID
// within overrides are an error naming both places.
func Merge(base, overrides []Rule) ([]Rule, error) {
	out := slices.Clone(base)
	pos := map[string]int{}
	for i, r := range out {
		pos[r.ID] = i
	}
	seen := map[string]*Rule{}
	for i := range overrides {
		r := overrides[i]
		if prev, ok := seen[r.ID]; ok && r.ID != "" {
			return nil, fmt.Errorf("%s: duplicate rule ID (also at %s:%d)", r.where(), prev.File, prev.Line)
		}
		seen[r.ID] = &overrides[i]
		i, ok := pos[r.ID]
		switch {
		case !ok:
			pos[r.ID] = len(out)
			out = append(out, r)
		case !r.IsEnabled() && r.Condition == "":
			disabled := out[i]
			disabled.Enabled = r.Enabled
			out[i] = disabled
		default:
			out[i] = r
		}
	}
	return out, nil
}
