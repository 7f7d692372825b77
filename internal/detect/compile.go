package detect

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/oneline"
)

// Facts are the prefilter facts of one event: what a rule's match block is
// held to before its CEL condition runs. A source leaves unused facts
// empty.
type Facts struct {
	// Type is the event type (sensor: exec, open, connect, ...).
	Type string
	// Verb is the API verb (audit).
	Verb string
	// Resource is the API resource (audit).
	Resource string
	// Subresource is the API subresource (audit), "" for none.
	Subresource string
	// Namespace is the event's namespace, "" for none.
	Namespace string
}

// Source describes one event stream to the rule compiler.
type Source struct {
	// Name is the value of a rule's source field for this stream
	// ("audit", "sensor"). Compile ignores rules of other sources.
	Name string
	// Declarations declare the CEL variables (and any functions) the
	// stream's rules see, e.g. cel.Variable("verb", cel.StringType).
	Declarations []cel.EnvOption
	// MatchFields are the prefilter fields the stream's rules may use
	// (yaml names: verbs, resources, subresources, namespaces, eventTypes).
	MatchFields []string
	// Facts returns the prefilter facts of an event.
	Facts func(event any) Facts
	// Activation returns the CEL variables of an event. It should resolve
	// variables lazily: only those a matching rule reads are built.
	Activation func(event any) interpreter.Activation
}

// CostLimit bounds the CEL cost of one expression evaluation, so that a
// hostile or careless rule cannot stall a stream.
const CostLimit = 100_000

// Match is one rule that matched one event.
type Match struct {
	// Rule is the rule.
	Rule *Rule
	// Output is the rule's output template rendered for the event.
	Output string
	// Key is the dedupe key: the rule ID and the dedupe keys' values.
	Key string
}

// compiled is one rule ready to run.
type compiled struct {
	rule      *Rule
	verbs     []string
	resources []string
	subres    []string
	ns        []string
	types     []string
	cond      cel.Program
	output    []segment
	keys      []cel.Program
	evals     atomic.Uint64
	matches   atomic.Uint64
	errors    atomic.Uint64
}

// segment is a literal or a ${expr} part of an output template.
type segment struct {
	lit  string
	prog cel.Program
}

// RuleSet is the compiled rules of one source. It is safe for concurrent
// use.
type RuleSet struct {
	source Source
	rules  []*compiled
	// indexed: whether any rule constrains resources or event types.
	mu    sync.RWMutex
	index map[string][]*compiled
}

// maxIndex bounds the candidate-list cache (keys are resource and event
// type names, a small set in practice).
const maxIndex = 4096

func baseEnvOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.Lists(ext.ListsVersion(3)),
		ext.TwoVarComprehensions(),
	}
}

// Env returns the CEL environment of a source's rules (the base libraries
// and the source's declarations).
func (s Source) Env() (*cel.Env, error) {
	return cel.NewEnv(append(baseEnvOptions(), s.Declarations...)...)
}

var ruleID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var mitreID = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// Compile checks and compiles the enabled rules of source (rules of other
// sources are ignored) once. Errors name the rule's file, line and ID; all
// are reported, joined.
func Compile(rules []Rule, source Source) (*RuleSet, error) {
	env, err := source.Env()
	if err != nil {
		return nil, fmt.Errorf("source %s: CEL environment: %w", source.Name, err)
	}
	rs := &RuleSet{source: source, index: map[string][]*compiled{}}
	var errs []error
	seen := map[string]*Rule{}
	for i := range rules {
		r := &rules[i]
		if r.Source != source.Name {
			if r.Source != "audit" && r.Source != "sensor" {
				errs = append(errs, fmt.Errorf("%s: source must be audit or sensor, not %q", r.where(), r.Source))
			}
			continue
		}
		if prev, ok := seen[r.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: duplicate rule ID (also at %s:%d)", r.where(), prev.File, prev.Line))
			continue
		}
		seen[r.ID] = r
		if !r.IsEnabled() {
			continue
		}
		c, err := compileRule(env, source, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs.rules = append(rs.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

func compileRule(env *cel.Env, source Source, r *Rule) (*compiled, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", r.where(), fmt.Sprintf(format, args...))
	}
	switch {
	case !ruleID.MatchString(r.ID):
		return nil, fail("id %q must be kebab-case (a-z, 0-9, -)", r.ID)
	case r.Title == "":
		return nil, fail("title is required")
	case r.Severity < control.SeverityLow:
		return nil, fail("severity must be low, medium, high or critical")
	case len(r.MITRE) == 0:
		return nil, fail("mitre: at least one MITRE ATT&CK technique ID is required")
	case r.Condition == "":
		return nil, fail("condition is required")
	case r.Output == "":
		return nil, fail("output is required")
	}
	for _, m := range r.MITRE {
		if !mitreID.MatchString(m) {
			return nil, fail("mitre: %q is not a technique ID like T1609 or T1552.007", m)
		}
	}
	used := map[string][]string{"verbs": r.Match.Verbs, "resources": r.Match.Resources, "subresources": r.Match.Subresources, "namespaces": r.Match.Namespaces, "eventTypes": r.Match.EventTypes}
	for _, f := range prefilterFields {
		if len(used[f]) > 0 && !slices.Contains(source.MatchFields, f) {
			return nil, fail("match.%s is not available to %s rules (available: %s)", f, source.Name, strings.Join(source.MatchFields, ", "))
		}
	}
	c := &compiled{rule: r, verbs: r.Match.Verbs, resources: r.Match.Resources, subres: r.Match.Subresources, ns: r.Match.Namespaces, types: r.Match.EventTypes}
	var err error
	if c.cond, err = program(env, r.Condition, types.BoolType); err != nil {
		return nil, fail("condition: %s", err)
	}
	if c.output, err = parseTemplate(env, r.Output); err != nil {
		return nil, fail("output: %s", err)
	}
	for i, k := range r.Dedupe.Keys {
		p, err := program(env, k, nil)
		if err != nil {
			return nil, fail("dedupe.keys[%d]: %s", i, err)
		}
		c.keys = append(c.keys, p)
	}
	return c, nil
}

// program compiles one expression; want, when set, is its required type.
func program(env *cel.Env, expr string, want *types.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, errors.New(oneline.Err(iss.Err()))
	}
	if want != nil && !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(types.DynType) {
		return nil, fmt.Errorf("must be a %s expression, not %s", want, ast.OutputType())
	}
	// Expressions without a comprehension cost at most a small multiple
	// of the event's size (itself bounded by the source) and run without
	// the cost tracker, which would add a fifth to every evaluation;
	// expressions with one (all, exists, map, filter...) are tracked and
	// stopped at CostLimit.
	nav := celast.NavigateAST(ast.NativeRep())
	if len(celast.MatchDescendants(nav, celast.KindMatcher(celast.ComprehensionKind))) == 0 {
		return env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(CostLimit))
}

// parseTemplate splits an output template into literals and ${expr}
// placeholders; "$$" is a literal "$". Braces inside an expression nest;
// quoted strings may hold any brace.
func parseTemplate(env *cel.Env, tmpl string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch != '$' || i+1 >= len(tmpl) {
			lit.WriteByte(ch)
			continue
		}
		switch tmpl[i+1] {
		case '$':
			lit.WriteByte('$')
			i++
			continue
		case '{':
		default:
			lit.WriteByte(ch)
			continue
		}
		end := exprEnd(tmpl, i+2)
		if end < 0 {
			return nil, fmt.Errorf("unclosed ${ at offset %d", i)
		}
		expr := strings.TrimSpace(tmpl[i+2 : end])
		if expr == "" {
			return nil, fmt.Errorf("empty ${} at offset %d", i)
		}
		p, err := program(env, expr, nil)
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", expr, err)
		}
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
		segs = append(segs, segment{prog: p})
		i = end
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, nil
}

// exprEnd returns the index of the '}' closing an expression starting at
// start, or -1.
func exprEnd(s string, start int) int {
	depth := 0
	var quote byte
	for i := start; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			switch ch {
			case '\\':
				i++
			case quote:
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '{':
			depth++
		case ch == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// Source returns the source the rule set was compiled for.
func (rs *RuleSet) Source() Source { return rs.source }

// Rules returns the compiled (enabled) rules, in order.
func (rs *RuleSet) Rules() []*Rule {
	out := make([]*Rule, len(rs.rules))
	for i, c := range rs.rules {
		out[i] = c.rule
	}
	return out
}

// RuleStats are the evaluation counters of one rule.
type RuleStats struct {
	// Rule is the rule ID.
	Rule string
	// Evaluations counts condition evaluations (events past the prefilter).
	Evaluations uint64
	// Matches counts events the rule matched.
	Matches uint64
	// Errors counts evaluation errors (the event did not match).
	Errors uint64
}

// Stats returns every rule's counters, in rule order.
func (rs *RuleSet) Stats() []RuleStats {
	out := make([]RuleStats, len(rs.rules))
	for i, c := range rs.rules {
		out[i] = RuleStats{Rule: c.rule.ID, Evaluations: c.evals.Load(), Matches: c.matches.Load(), Errors: c.errors.Load()}
	}
	return out
}

// candidates returns the rules whose resource and event-type prefilters
// admit f, in rule order (cached per resource and type).
func (rs *RuleSet) candidates(f *Facts) []*compiled {
	key := f.Resource + "\x00" + f.Type
	rs.mu.RLock()
	list, ok := rs.index[key]
	rs.mu.RUnlock()
	if ok {
		return list
	}
	list = []*compiled{}
	for _, c := range rs.rules {
		if (len(c.resources) == 0 || slices.Contains(c.resources, f.Resource)) && (len(c.types) == 0 || slices.Contains(c.types, f.Type)) {
			list = append(list, c)
		}
	}
	rs.mu.Lock()
	if len(rs.index) < maxIndex {
		rs.index[key] = list
	}
	rs.mu.Unlock()
	return list
}

func admits(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }

// Eval runs every rule on event and appends a Match for each rule that
// matches to dst (every match: not first-match-wins). A rule whose
// condition fails to evaluate (a missing field, the cost limit) does not
// match; its error is counted in Stats and returned, joined with the
// others, alongside the matches of the other rules.
func (rs *RuleSet) Eval(event any, dst []Match) ([]Match, error) {
	f := rs.source.Facts(event)
	var act interpreter.Activation
	var errs []error
	for _, c := range rs.candidates(&f) {
		if !admits(c.verbs, f.Verb) || !admits(c.subres, f.Subresource) || !admits(c.ns, f.Namespace) {
			continue
		}
		if act == nil {
			act = rs.source.Activation(event)
		}
		c.evals.Add(1)
		v, _, err := c.cond.Eval(act)
		if err != nil {
			c.errors.Add(1)
			errs = append(errs, fmt.Errorf("rule %s: %s", c.rule.ID, oneline.Err(err)))
			continue
		}
		if v != types.True {
			continue
		}
		c.matches.Add(1)
		out := render(c.output, act)
		dst = append(dst, Match{Rule: c.rule, Output: out, Key: dedupeKey(c, act, out)})
	}
	return dst, errors.Join(errs...)
}

func render(segs []segment, act interpreter.Activation) string {
	var b strings.Builder
	for _, s := range segs {
		if s.prog == nil {
			b.WriteString(s.lit)
			continue
		}
		v, _, err := s.prog.Eval(act)
		if err != nil {
			b.WriteString("<?>")
			continue
		}
		b.WriteString(Format(v))
	}
	return b.String()
}

func dedupeKey(c *compiled, act interpreter.Activation, output string) string {
	var b strings.Builder
	b.WriteString(c.rule.ID)
	if len(c.keys) == 0 {
		b.WriteByte(0)
		b.WriteString(output)
		return b.String()
	}
	for _, k := range c.keys {
		b.WriteByte(0)
		v, _, err := k.Eval(act)
		if err != nil {
			b.WriteString("<?>")
			continue
		}
		b.WriteString(Format(v))
	}
	return b.String()
}

// Format renders a CEL value for an output message: strings as they are,
// lists joined with ", ", null as "<none>", other values in their CEL text
// form.
func Format(v ref.Val) string {
	switch v.Type() {
	case types.StringType:
		return v.Value().(string)
	case types.NullType:
		return "<none>"
	case types.TimestampType:
		if t, ok := v.Value().(time.Time); ok {
			return t.UTC().Format(time.RFC3339)
		}
	}
	if l, ok := v.(interface {
		Size() ref.Val
		Get(ref.Val) ref.Val
	}); ok && v.Type() == types.ListType {
		n, _ := l.Size().Value().(int64)
		parts := make([]string, 0, n)
		for i := int64(0); i < n; i++ {
			parts = append(parts, Format(l.Get(types.Int(i))))
		}
		return strings.Join(parts, ", ")
	}
	if s, ok := v.ConvertToType(types.StringType).(types.String); ok {
		return string(s)
	}
	return fmt.Sprint(v.Value())
}
