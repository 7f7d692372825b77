package celrules

import (
	"fmt"
	"slices"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// EvalError is what a rule's check panics with when its expression cannot
// be evaluated on an object; the engine recovers it into an error finding
// (StatusError) for that object and control, so a bad rule never stops a
// scan or an admission request.
type EvalError struct {
	// Rule is the rule's ID.
	Rule string
	// Err is the evaluation error.
	Err error
}

// Error implements error.
func (e *EvalError) Error() string { return fmt.Sprintf("rule %s: %v", e.Rule, e.Err) }

// Unwrap returns the evaluation error.
func (e *EvalError) Unwrap() error { return e.Err }

// Control returns the rule as a per-object control. Its check fails the
// object with the rule's message when the expression is false; it reports
// at the object itself (a rule names no field).
func (r *Rule) Control() *control.Control {
	desc := r.Description
	if desc == "" {
		desc = fmt.Sprintf("Custom rule from %s:%d: %s", r.File, r.Line, r.Validation.Expression)
	}
	c := &control.Control{
		Metadata: control.Metadata{
			ID:          r.ID,
			Title:       r.Title,
			Severity:    r.Severity,
			Category:    Category,
			Description: desc,
			Remediation: r.Remediation,
		},
		Kinds: slices.Clone(r.Match.Kinds),
		Check: r.check,
	}
	if len(r.Match.APIGroups) > 0 || len(r.Match.Namespaces) > 0 {
		groups, namespaces := r.Match.APIGroups, r.Match.Namespaces
		c.Match = func(o *k8s.Object) bool {
			if len(groups) > 0 && !slices.Contains(groups, o.Group()) && !slices.Contains(groups, "*") {
				return false
			}
			return len(namespaces) == 0 || slices.Contains(namespaces, o.Namespace())
		}
	}
	return c
}

// check evaluates the rule on the context's object.
func (r *Rule) check(c *control.Context) {
	failed, err := r.prog.Eval(c.Obj.Content)
	if err != nil {
		panic(&EvalError{Rule: r.ID, Err: err})
	}
	for _, f := range failed {
		c.Fail("", "", f.Message)
	}
}

// Controls returns the controls of rules, in order.
func Controls(rules []*Rule) []*control.Control {
	out := make([]*control.Control, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.Control())
	}
	return out
}
