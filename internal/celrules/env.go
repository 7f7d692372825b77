package celrules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
	"k8s.io/apiserver/pkg/cel/library"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// CostLimit is the most a single expression may cost in one evaluation, in
// CEL cost units. It is the per-expression limit of the Kubernetes API
// server (apiserver/pkg/apis/cel.PerCallLimit, about 0.1 s), so a rule that
// a scan accepts is not cut short by the API server either, and a hostile
// rule cannot hang a scan.
const CostLimit = 1_000_000

// MaxExpressionLength bounds the text of one expression.
const MaxExpressionLength = 10_000

// envOptions mirror the base environment of the Kubernetes API server for
// ValidatingAdmissionPolicy expressions (apiserver/pkg/cel/environment,
// features introduced up to v1.34), minus the authorizer, which needs a
// request: standard macros, optional types, the strings, sets, lists and
// two-variable comprehension extensions, and the Kubernetes URL, regex,
// lists, quantity, IP, CIDR, format and semver libraries.
func envOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		library.URLs(),
		library.Regex(),
		library.Lists(),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		library.Quantity(),
		cel.ASTValidators(
			cel.ValidateDurationLiterals(),
			cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals(),
			cel.ValidateHomogeneousAggregateLiterals(),
		),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		library.IP(),
		library.CIDR(),
		library.Format(),
		ext.TwoVarComprehensions(),
		library.SemverLib(library.SemverVersion(1)),
		ext.Lists(ext.ListsVersion(3)),
		cel.CostEstimatorOptions(checker.PresenceTestHasCost(false)),
		cel.Variable("object", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	}
}

// env is built once per process: building it validates every declaration.
var env = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv(envOptions()...) })

// programOptions apply to every program: cost tracking with the Kubernetes
// cost estimator of its libraries and the per-call limit.
func programOptions() []cel.ProgramOption {
	return []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize, cel.OptTrackCost),
		cel.CostLimit(CostLimit),
		cel.CostTracking(&library.CostEstimator{}),
		cel.CostTrackerOptions(interpreter.PresenceTestHasCost(false)),
	}
}

// Variable is a named expression evaluated before the validations and
// visible to them as variables.<Name>, as in a ValidatingAdmissionPolicy.
type Variable struct {
	// Name is a CEL identifier.
	Name string `json:"name" yaml:"name"`
	// Expression computes the value.
	Expression string `json:"expression" yaml:"expression"`
}

// Validation is one expression that is true when the object is valid.
type Validation struct {
	// Expression must evaluate to a bool: true when the object is valid.
	Expression string `json:"expression" yaml:"expression"`
	// Message is reported when Expression is false.
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
	// MessageExpression, when set, computes the message (a string); the
	// static Message is used when it fails or yields an empty string.
	MessageExpression string `json:"messageExpression,omitempty" yaml:"messageExpression,omitempty"`
}

// CompileError is an error in one expression. Error returns one line.
type CompileError struct {
	// Field names the expression, e.g. "expression" or "variables[0].expression".
	Field string
	// Line and Column locate the first issue inside the expression
	// (1-based; 0 when unknown).
	Line, Column int
	// Message is the CEL compiler's message(s), joined on one line.
	Message string
}

// Error implements error.
func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %d:%d: %s", e.Field, e.Line, e.Column, e.Message)
	}
	return e.Field + ": " + e.Message
}

type compiledVar struct {
	name string
	prg  cel.Program
}

type compiledValidation struct {
	Validation
	prg cel.Program
	msg cel.Program // nil without MessageExpression
}

// Program is a compiled set of variables and validations. It is safe for
// concurrent use.
type Program struct {
	vars []compiledVar
	vals []compiledValidation
}

// compileCache holds compiled programs by expression text and expected
// output: rule files are often loaded twice in one process (scan and
// export, or a webhook reload), and compiling dominates loading.
var compileCache sync.Map // cacheKey -> cel.Program

type cacheKey struct {
	expr string
	want string
}

// compileOne compiles one expression whose result must be of type want
// (bool, string, or nil for any).
func compileOne(field, expr string, want *cel.Type) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &CompileError{Field: field, Message: "empty expression"}
	}
	if len(expr) > MaxExpressionLength {
		return nil, &CompileError{Field: field, Message: fmt.Sprintf("expression is %d bytes long, over the limit of %d", len(expr), MaxExpressionLength)}
	}
	key := cacheKey{expr: expr}
	if want != nil {
		key.want = want.String()
	}
	if p, ok := compileCache.Load(key); ok {
		return p.(cel.Program), nil
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, issuesError(field, iss)
	}
	if want != nil && !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, &CompileError{Field: field, Message: fmt.Sprintf("must evaluate to %s, not %s", want, ast.OutputType())}
	}
	prg, err := e.Program(ast, programOptions()...)
	if err != nil {
		return nil, &CompileError{Field: field, Message: err.Error()}
	}
	compileCache.Store(key, prg)
	return prg, nil
}

// issuesError turns the compiler's issues into one CompileError located at
// the first issue.
func issuesError(field string, iss *cel.Issues) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &CompileError{Field: field, Message: oneline.String(iss.Err().Error())}
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, oneline.String(e.Message))
	}
	first := errs[0]
	ce := &CompileError{Field: field, Message: strings.Join(msgs, "; ")}
	if first.Location != nil && first.Location != common.NoLocation && first.Location.Line() > 0 {
		ce.Line, ce.Column = first.Location.Line(), first.Location.Column()+1
	}
	return ce
}

// Compile compiles variables and validations. Variable names must be
// unique CEL identifiers; each validation must evaluate to a bool and its
// messageExpression, if any, to a string.
func Compile(vars []Variable, vals []Validation) (*Program, error) {
	p := &Program{}
	seen := map[string]bool{}
	for i, v := range vars {
		field := fmt.Sprintf("variables[%d]", i)
		if !isIdent(v.Name) {
			return nil, &CompileError{Field: field + ".name", Message: fmt.Sprintf("%q is not a CEL identifier", v.Name)}
		}
		if seen[v.Name] {
			return nil, &CompileError{Field: field + ".name", Message: fmt.Sprintf("duplicate variable %q", v.Name)}
		}
		seen[v.Name] = true
		prg, err := compileOne(field+".expression", v.Expression, nil)
		if err != nil {
			return nil, err
		}
		p.vars = append(p.vars, compiledVar{name: v.Name, prg: prg})
	}
	if len(vals) == 0 {
		return nil, &CompileError{Field: "validations", Message: "no validation"}
	}
	for i, v := range vals {
		field := "expression"
		if len(vals) > 1 {
			field = fmt.Sprintf("validations[%d].expression", i)
		}
		prg, err := compileOne(field, v.Expression, cel.BoolType)
		if err != nil {
			return nil, err
		}
		cv := compiledValidation{Validation: v, prg: prg}
		if v.MessageExpression != "" {
			mf := "messageExpression"
			if len(vals) > 1 {
				mf = fmt.Sprintf("validations[%d].messageExpression", i)
			}
			if cv.msg, err = compileOne(mf, v.MessageExpression, cel.StringType); err != nil {
				return nil, err
			}
		}
		p.vals = append(p.vals, cv)
	}
	return p, nil
}

// isIdent reports whether s is a CEL identifier that is not reserved.
func isIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	switch s {
	case "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while":
		return false
	}
	return true
}

// activation resolves object and variables without building a map.
type activation struct {
	object    any
	variables map[string]any
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "object":
		return a.object, true
	case "variables":
		if a.variables == nil {
			return emptyVariables, true
		}
		return a.variables, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

var emptyVariables = map[string]any{}

// Failure is one validation that the object did not pass.
type Failure struct {
	// Index is the validation's position.
	Index int
	// Message is the validation's message (computed when it has a
	// messageExpression that succeeds).
	Message string
}

// Eval evaluates the validations on an object (its content as decoded from
// YAML or JSON) and returns those that are false, in order. Variables are
// evaluated first, in order; a variable whose evaluation fails makes only
// the validations that read it fail with an error. An error is returned
// when a validation cannot be evaluated (a missing field read without
// has(), a type error, the cost limit): the object is then neither valid
// nor invalid.
func (p *Program) Eval(object map[string]any) ([]Failure, error) {
	act := &activation{object: object}
	if len(p.vars) > 0 {
		act.variables = make(map[string]any, len(p.vars))
		for _, v := range p.vars {
			out, _, err := v.prg.Eval(act)
			if err != nil {
				out = types.WrapErr(fmt.Errorf("variables.%s: %w", v.name, err))
			}
			act.variables[v.name] = out
		}
	}
	var failed []Failure
	for i := range p.vals {
		v := &p.vals[i]
		out, _, err := v.prg.Eval(act)
		if err != nil {
			return failed, evalError(i, len(p.vals), err)
		}
		ok, isBool := out.Value().(bool)
		if !isBool {
			return failed, evalError(i, len(p.vals), fmt.Errorf("expression returned %s, not bool", out.Type().TypeName()))
		}
		if ok {
			continue
		}
		failed = append(failed, Failure{Index: i, Message: v.message(act)})
	}
	return failed, nil
}

// message returns the validation's message for a failed object.
func (v *compiledValidation) message(act *activation) string {
	if v.msg != nil {
		if out, _, err := v.msg.Eval(act); err == nil {
			if s, ok := out.Value().(string); ok && strings.TrimSpace(s) != "" {
				return oneline.String(s)
			}
		}
	}
	if v.Message != "" {
		return v.Message
	}
	return "failed expression: " + oneline.String(v.Expression)
}

// ErrCostLimit is wrapped by evaluation errors caused by the cost limit.
var ErrCostLimit = errors.New("CEL cost limit exceeded")

// evalError names the validation that failed to evaluate.
func evalError(i, n int, err error) error {
	where := "expression"
	if n > 1 {
		where = fmt.Sprintf("validations[%d].expression", i)
	}
	msg := oneline.String(err.Error())
	if strings.Contains(msg, "cost limit exceeded") {
		return fmt.Errorf("%s: %w (%d units): %s", where, ErrCostLimit, CostLimit, msg)
	}
	return fmt.Errorf("%s: evaluation failed: %s", where, msg)
}
