package controltest

import (
	"reflect"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// Family is the Controls function of a control family package.
type Family func() ([]*control.Control, error)

// Controls returns the bound controls of f, failing the test when binding
// fails.
func Controls(tb testing.TB, f Family) []*control.Control {
	tb.Helper()
	cs, err := f()
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// ByID returns the control of f with id, failing the test when f has none.
func ByID(tb testing.TB, f Family, id string) *control.Control {
	tb.Helper()
	for _, c := range Controls(tb, f) {
		if c.ID == id {
			return c
		}
	}
	tb.Fatalf("no control %s", id)
	return nil
}

// Decode decodes the YAML documents of doc (reported as test.yaml) into
// objects, failing the test on any input error.
func Decode(tb testing.TB, doc string) []*k8s.Object {
	tb.Helper()
	var objs []*k8s.Object
	if errs := load.Decode(load.Unit{File: "test.yaml"}, []byte(doc), load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) }); len(errs) > 0 {
		tb.Fatalf("decode: %v", errs)
	}
	return objs
}

// DecodeOne decodes doc like Decode and returns its only object, failing the
// test unless there is exactly one.
func DecodeOne(tb testing.TB, doc string) *k8s.Object {
	tb.Helper()
	objs := Decode(tb, doc)
	if len(objs) != 1 {
		tb.Fatalf("want 1 object, got %d", len(objs))
		return nil
	}
	return objs[0]
}

// Run runs the per-object check of c on obj with a fresh Context and empty
// Settings and returns the violations. It does not consult c.Applies.
func Run(tb testing.TB, c *control.Control, obj *k8s.Object) []control.Violation {
	tb.Helper()
	return RunWith(tb, c, obj, nil)
}

// RunWith is Run with the given settings; nil means empty Settings.
func RunWith(tb testing.TB, c *control.Control, obj *k8s.Object, s *control.Settings) []control.Violation {
	tb.Helper()
	if c.Check == nil {
		tb.Fatalf("control %s has no per-object check", c.ID)
		return nil
	}
	if s == nil {
		s = &control.Settings{}
	}
	ctx := &control.Context{Obj: obj, Settings: s}
	c.Check(ctx)
	return ctx.Violations
}

// Apply runs c on obj like Run when c applies to obj; applied is false, and
// there are no violations, when it does not.
func Apply(tb testing.TB, c *control.Control, obj *k8s.Object) (applied bool, vs []control.Violation) {
	tb.Helper()
	if !c.Applies(obj) {
		return false, nil
	}
	return true, Run(tb, c, obj)
}

// CheckDoc decodes doc, which must hold exactly one object, and applies the
// per-object control id of f to it. It reports every violation without a
// message as a test error and returns whether the control applied and the
// paths of its violations (nil when there are none).
func CheckDoc(tb testing.TB, f Family, id, doc string) (applied bool, paths []string) {
	tb.Helper()
	c := ByID(tb, f, id)
	obj := DecodeOne(tb, doc)
	applied, vs := Apply(tb, c, obj)
	RequireMessages(tb, vs)
	return applied, Paths(vs)
}

// ExpectCheck runs CheckDoc and asserts its outcome: the test stops when
// whether the control applied differs from applied, and fails when the
// violation paths differ from want (nil for none).
func ExpectCheck(tb testing.TB, f Family, id, doc string, applied bool, want []string) {
	tb.Helper()
	gotApplied, got := CheckDoc(tb, f, id, doc)
	if gotApplied != applied {
		tb.Fatalf("applied = %v, want %v", gotApplied, applied)
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("violation paths = %q, want %q", got, want)
	}
}

// Cross runs the cross-object check of c over an inventory of objs, with
// empty Settings, and returns the context: its Inv, Evaluated and
// Violations are what the check saw and reported.
func Cross(tb testing.TB, c *control.Control, objs []*k8s.Object) *control.CrossContext {
	tb.Helper()
	if c.Cross == nil {
		tb.Fatalf("control %s has no cross-object check", c.ID)
		return nil
	}
	cc := &control.CrossContext{Inv: Inventory(objs), Settings: &control.Settings{}}
	c.Cross(cc)
	return cc
}

// CrossFindings returns "Kind/name path" for every violation cc recorded
// on entries, in the order of entries and then of the violations.
func CrossFindings(cc *control.CrossContext, entries []*k8s.Entry) []string {
	var out []string
	for _, e := range entries {
		for _, v := range cc.Violations[e.ID] {
			out = append(out, e.Ref.Kind+"/"+e.Ref.Name+" "+v.Path)
		}
	}
	return out
}

// Inventory returns an inventory holding an entry for each of objs, in
// order, as the engine builds it.
func Inventory(objs []*k8s.Object) *k8s.Inventory {
	inv := k8s.NewInventory()
	for _, o := range objs {
		inv.Add(k8s.EntryFor(o))
	}
	return inv
}

// Paths returns the paths of vs in order, nil when vs is empty.
func Paths(vs []control.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Path)
	}
	return out
}

// RequireMessages reports a test error for every violation of vs that has
// no message.
func RequireMessages(tb testing.TB, vs []control.Violation) {
	tb.Helper()
	for _, v := range vs {
		if v.Message == "" {
			tb.Errorf("violation without message at %s", v.Path)
		}
	}
}
