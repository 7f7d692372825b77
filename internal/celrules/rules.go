package celrules

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-dev/rampart/internal/control"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// Limits on rule files.
const (
	// MaxFileSize is the largest rule file accepted, in bytes.
	MaxFileSize = 1 << 20
	// MaxRules is the most rules one file may hold.
	MaxRules = 1000
	// MaxIDLength keeps policy names (rampart-<id>) short.
	MaxIDLength = 63
)

// Category is the category of every custom rule's control.
const Category = "custom"

// Match selects the objects a rule applies to.
type Match struct {
	// Kinds lists the object kinds, e.g. Pod, Deployment. Required.
	Kinds []string `json:"kinds" yaml:"kinds"`
	// APIGroups, when set, restricts the rule to these API groups ("" is
	// the core group); empty means any group.
	APIGroups []string `json:"apiGroups,omitempty" yaml:"apiGroups,omitempty"`
	// Namespaces, when set, restricts the rule to objects in these
	// namespaces; empty means every namespace.
	Namespaces []string `json:"namespaces,omitempty" yaml:"namespaces,omitempty"`
}

// Rule is one custom rule of a rule file.
type Rule struct {
	// ID is the kebab-case identifier, unique among rules and controls.
	ID string
	// Title is a short human name.
	Title string
	// Severity is how bad a failure is.
	Severity control.Severity
	// Description says what is checked and why (optional).
	Description string
	// Remediation says how to fix a failure (optional).
	Remediation string
	// Match selects the objects the rule applies to.
	Match Match
	// Variables are evaluated before Expression, visible as variables.<name>.
	Variables []Variable
	// Validation holds the expression (true when the object is valid) and
	// its message.
	Validation Validation
	// File and Line locate the rule (its first key) for error messages.
	File string
	Line int

	prog *Program
}

// Program returns the compiled rule.
func (r *Rule) Program() *Program { return r.prog }

// Options configure loading.
type Options struct {
	// Reserved reports IDs already taken, such as built-in control IDs.
	Reserved func(id string) bool
}

// LoadFiles reads, parses and compiles the rule files at paths. IDs must
// be unique across the files. Every error names its file and line, one
// error per line.
func LoadFiles(paths []string, opts Options) ([]*Rule, error) {
	var out []*Rule
	seen := map[string]*Rule{}
	var errs []error
	for _, p := range paths {
		data, err := readFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules, err := Parse(p, data, opts)
		if err != nil {
			errs = append(errs, err)
		}
		for _, r := range rules {
			if prev := seen[r.ID]; prev != nil {
				errs = append(errs, fmt.Errorf("%s:%d: rule %s: duplicate id (first defined at %s:%d)", r.File, r.Line, r.ID, prev.File, prev.Line))
				continue
			}
			seen[r.ID] = r
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading rule file %s: %w", p, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading rule file %s: %w", p, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("reading rule file %s: is a directory", p)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("reading rule file %s: %d bytes, over the limit of %d", p, st.Size(), MaxFileSize)
	}
	return os.ReadFile(p)
}

var (
	idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	// kindPattern accepts Kubernetes kind names.
	kindPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
)

// ruleKeys are the keys a rule may carry.
var ruleKeys = []string{"id", "title", "severity", "description", "remediation", "match", "variables", "expression", "message", "messageExpression"}

// matchKeys are the keys of a rule's match.
var matchKeys = []string{"kinds", "apiGroups", "namespaces"}

// Parse parses and compiles the rules of one file: a YAML list of rules.
// name is used in error messages. Rules that fail are left out; the error
// lists every failure, one per line, each as "name:line: rule ID: problem".
func Parse(name string, data []byte, opts Options) ([]*Rule, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes, over the limit of %d", name, len(data), MaxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yamlError(err))
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("%s: empty rule file (want a list of rules)", name)
	}
	list := &doc
	if list.Kind == yaml.DocumentNode && len(list.Content) == 1 {
		list = list.Content[0]
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: want a list of rules", name, list.Line)
	}
	if len(list.Content) > MaxRules {
		return nil, fmt.Errorf("%s: %d rules, over the limit of %d", name, len(list.Content), MaxRules)
	}
	var out []*Rule
	var errs []error
	seen := map[string]int{}
	for _, n := range list.Content {
		r, err := parseRule(name, n, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if line, dup := seen[r.ID]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: rule %s: duplicate id (first defined at line %d)", name, r.Line, r.ID, line))
			continue
		}
		seen[r.ID] = r.Line
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// yamlError flattens a YAML error to one line.
func yamlError(err error) string {
	return oneline.String(strings.TrimPrefix(err.Error(), "yaml: "))
}

// fields maps a mapping node's keys to their value nodes, rejecting
// unknown and repeated keys.
func fields(n *yaml.Node, allowed []string) (map[string]*yaml.Node, *yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, n, fmt.Errorf("want a mapping")
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || !slices.Contains(allowed, k.Value) {
			return nil, k, fmt.Errorf("unknown field %q (want one of %s)", k.Value, strings.Join(allowed, ", "))
		}
		if out[k.Value] != nil {
			return nil, k, fmt.Errorf("field %q given twice", k.Value)
		}
		out[k.Value] = v
	}
	return out, nil, nil
}

// scalar returns a string field; absent fields are "".
func scalar(f map[string]*yaml.Node, key string) (string, *yaml.Node, error) {
	n := f[key]
	if n == nil {
		return "", nil, nil
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool") {
		return "", n, fmt.Errorf("%s: want a string", key)
	}
	return n.Value, n, nil
}

// stringList returns a list-of-strings field.
func stringList(f map[string]*yaml.Node, key string) ([]string, *yaml.Node, error) {
	n := f[key]
	if n == nil {
		return nil, nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, n, fmt.Errorf("%s: want a list of strings", key)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
			return nil, c, fmt.Errorf("%s: want a list of strings", key)
		}
		out = append(out, c.Value)
	}
	return out, nil, nil
}

// parseRule parses and compiles one rule node.
func parseRule(file string, n *yaml.Node, opts Options) (*Rule, error) {
	r := &Rule{File: file, Line: n.Line}
	fail := func(at *yaml.Node, err error) error {
		line := r.Line
		if at != nil && at.Line > 0 {
			line = at.Line
		}
		who := "rule"
		if r.ID != "" {
			who = "rule " + r.ID
		}
		return fmt.Errorf("%s:%d: %s: %w", file, line, who, err)
	}
	f, at, err := fields(n, ruleKeys)
	if err != nil {
		return nil, fail(at, err)
	}
	get := func(key string, dst *string) error {
		v, at, err := scalar(f, key)
		if err != nil {
			return fail(at, err)
		}
		*dst = v
		return nil
	}
	for _, kv := range []struct {
		key string
		dst *string
	}{
		{"id", &r.ID}, {"title", &r.Title}, {"description", &r.Description}, {"remediation", &r.Remediation},
		{"expression", &r.Validation.Expression}, {"message", &r.Validation.Message}, {"messageExpression", &r.Validation.MessageExpression},
	} {
		if err := get(kv.key, kv.dst); err != nil {
			return nil, err
		}
	}
	switch {
	case r.ID == "":
		return nil, fail(nil, errors.New("id: required"))
	case len(r.ID) > MaxIDLength || !idPattern.MatchString(r.ID):
		return nil, fail(f["id"], fmt.Errorf("id %q: want kebab-case (a-z, 0-9 and single dashes), at most %d characters", r.ID, MaxIDLength))
	case opts.Reserved != nil && opts.Reserved(r.ID):
		return nil, fail(f["id"], fmt.Errorf("id %q is a built-in control (see 'rampart controls'); choose another", r.ID))
	case strings.TrimSpace(r.Title) == "":
		return nil, fail(nil, errors.New("title: required"))
	case strings.TrimSpace(r.Validation.Message) == "" && r.Validation.MessageExpression == "":
		return nil, fail(nil, errors.New("message: required (or messageExpression)"))
	case strings.ContainsAny(r.Validation.Message, "\n\r"):
		return nil, fail(f["message"], errors.New("message: must be one line"))
	}
	sev, at, err := scalar(f, "severity")
	if err != nil {
		return nil, fail(at, err)
	}
	if sev == "" {
		return nil, fail(nil, errors.New("severity: required (info, low, medium, high or critical)"))
	}
	if r.Severity, err = control.ParseSeverity(sev); err != nil {
		return nil, fail(at, fmt.Errorf("severity: %w", err))
	}
	if err := parseMatch(r, f["match"], fail); err != nil {
		return nil, err
	}
	if vn := f["variables"]; vn != nil {
		if vn.Kind != yaml.SequenceNode {
			return nil, fail(vn, errors.New("variables: want a list of {name, expression}"))
		}
		for _, item := range vn.Content {
			vf, at, err := fields(item, []string{"name", "expression"})
			if err != nil {
				return nil, fail(at, fmt.Errorf("variables: %w", err))
			}
			var v Variable
			if v.Name, at, err = scalar(vf, "name"); err != nil {
				return nil, fail(at, fmt.Errorf("variables: %w", err))
			}
			if v.Expression, at, err = scalar(vf, "expression"); err != nil {
				return nil, fail(at, fmt.Errorf("variables: %w", err))
			}
			r.Variables = append(r.Variables, v)
		}
	}
	if r.Validation.Expression == "" {
		return nil, fail(nil, errors.New("expression: required (a CEL expression, true when the object is valid)"))
	}
	prog, err := Compile(r.Variables, []Validation{r.Validation})
	if err != nil {
		return nil, fail(&yaml.Node{Line: compileLine(err, f, n)}, err)
	}
	r.prog = prog
	return r, nil
}

// parseMatch reads the match field into r.
func parseMatch(r *Rule, mn *yaml.Node, fail func(*yaml.Node, error) error) error {
	if mn == nil {
		return fail(nil, errors.New("match: required (match.kinds lists the kinds the rule applies to)"))
	}
	mf, at, err := fields(mn, matchKeys)
	if err != nil {
		return fail(at, fmt.Errorf("match: %w", err))
	}
	if r.Match.Kinds, at, err = stringList(mf, "kinds"); err != nil {
		return fail(at, fmt.Errorf("match.%w", err))
	}
	if len(r.Match.Kinds) == 0 {
		return fail(mn, errors.New("match.kinds: required (e.g. [Pod, Deployment])"))
	}
	for _, k := range r.Match.Kinds {
		if !kindPattern.MatchString(k) {
			return fail(mf["kinds"], fmt.Errorf("match.kinds: %q is not a kind (e.g. Pod, Deployment)", k))
		}
	}
	if r.Match.APIGroups, at, err = stringList(mf, "apiGroups"); err != nil {
		return fail(at, fmt.Errorf("match.%w", err))
	}
	if r.Match.Namespaces, at, err = stringList(mf, "namespaces"); err != nil {
		return fail(at, fmt.Errorf("match.%w", err))
	}
	return nil
}

// compileLine returns the file line of a compile error: the line of the
// offending expression's value, plus the line inside a literal block
// scalar.
func compileLine(err error, f map[string]*yaml.Node, rule *yaml.Node) int {
	var ce *CompileError
	if !errors.As(err, &ce) {
		return rule.Line
	}
	key, _, _ := strings.Cut(ce.Field, "[")
	key, _, _ = strings.Cut(key, ".")
	node := f[key]
	if key == "variables" && node != nil {
		var i int
		if _, serr := fmt.Sscanf(ce.Field, "variables[%d]", &i); serr == nil && i < len(node.Content) {
			item := node.Content[i]
			node = item
			for j := 0; j+1 < len(item.Content); j += 2 {
				if item.Content[j].Value == "expression" {
					node = item.Content[j+1]
				}
			}
		}
	}
	if node == nil {
		return rule.Line
	}
	line := node.Line
	switch {
	case node.Style&yaml.LiteralStyle != 0 && ce.Line > 0:
		line += ce.Line
	case node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		line++
	}
	return line
}
