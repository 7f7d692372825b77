package engine

import (
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// Verdict is the outcome of one per-object control on one object, as
// Evaluate returns it.
type Verdict struct {
	// Control is the control that reported it.
	Control *control.Control
	// Violation is what the control reported (for StatusError, Message is
	// the evaluation error).
	Violation control.Violation
	// Severity is the effective severity: the violation's override or the
	// control's.
	Severity control.Severity
	// Status is fail, excepted or error.
	Status control.Status
	// Exception is the exception that covers the violation (or that
	// expired), if any.
	Exception *report.Exception
}

// Evaluate runs the engine's per-object controls on one object and returns
// what failed, with exceptions (annotations and config) applied exactly as
// in scans. It is the admission path: no inventory, no report, no line
// resolution, and no allocation beyond the verdicts and what the checks
// themselves allocate. Cross-object controls are not run. A control that
// panics yields a StatusError verdict. Evaluate is safe for concurrent use.
func (e *Engine) Evaluate(obj *k8s.Object) []Verdict {
	ctx := control.Context{Obj: obj, Settings: e.settings}
	var out []Verdict
	var ref k8s.Ref
	var ann map[string]string
	var ignores map[string]bool
	resolved := false
	run := func(idx []int) {
		for _, i := range idx {
			c := e.controls[i]
			if c.Match != nil && !c.Match(obj) {
				continue
			}
			ctx.Violations = ctx.Violations[:0]
			if err := safeCheck(c, &ctx); err != nil {
				out = append(out, Verdict{Control: c, Violation: control.Violation{Message: err.Error()}, Severity: c.Severity, Status: control.StatusError})
				continue
			}
			if len(ctx.Violations) == 0 {
				continue
			}
			if !resolved {
				ref, ann = obj.Ref(), k8s.RampartAnnotations(obj.Metadata())
				ignores, resolved = annotationIgnores(ann), true
			}
			for _, v := range ctx.Violations {
				out = append(out, e.verdict(c, v, ref, ann, ignores))
			}
		}
	}
	run(e.byKind[obj.Kind()])
	run(e.anyKind)
	return out
}

// EvaluateWith is Evaluate plus the cross-object controls, run over obj and
// related (the objects around it, for example the workloads of its
// namespace when obj is a Service). Only verdicts on obj are returned: a
// Service that publishes a Dashboard workload fails dashboard-exposed at
// admission, as it does in a scan that holds both.
func (e *Engine) EvaluateWith(obj *k8s.Object, related []*k8s.Object) []Verdict {
	out := e.Evaluate(obj)
	if len(e.cross) == 0 {
		return out
	}
	inv := k8s.NewInventory()
	target := k8s.EntryFor(obj)
	inv.Add(target)
	for _, r := range related {
		if r.Ref() != target.Ref {
			inv.Add(k8s.EntryFor(r))
		}
	}
	ignores := annotationIgnores(target.Annotations)
	for _, i := range e.cross {
		c := e.controls[i]
		cc := &control.CrossContext{Inv: inv, Settings: e.settings, Images: e.images}
		if err := safeCross(c, cc); err != nil {
			out = append(out, Verdict{Control: c, Violation: control.Violation{Message: err.Error()}, Severity: c.Severity, Status: control.StatusError})
			continue
		}
		for _, v := range cc.Violations[target.ID] {
			out = append(out, e.verdict(c, v, target.Ref, target.Annotations, ignores))
		}
	}
	return out
}

// verdict is the failing verdict of control c on the object ref, with its
// exception applied.
func (e *Engine) verdict(c *control.Control, v control.Violation, ref k8s.Ref, ann map[string]string, ignores map[string]bool) Verdict {
	vd := Verdict{Control: c, Violation: v, Severity: c.Severity, Status: control.StatusFail}
	if v.Severity != 0 {
		vd.Severity = v.Severity
	}
	if x := e.exceptionFor(c.ID, ref, ann, ignores); x != nil {
		vd.Exception = x
		if !x.Expired {
			vd.Status = control.StatusExcepted
		}
	}
	return vd
}

// Judge returns the failing verdict of control c on obj for v, with the
// object's annotation exceptions and the config exceptions applied, for
// controls evaluated outside the engine (the webhook's image signature
// policy).
func (e *Engine) Judge(c *control.Control, obj *k8s.Object, v control.Violation) Verdict {
	ann := k8s.RampartAnnotations(obj.Metadata())
	return e.verdict(c, v, obj.Ref(), ann, annotationIgnores(ann))
}
