package vap

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// corpus loads every object of examples/ and testdata/corpus/.
func corpus(t *testing.T) []*k8s.Object {
	t.Helper()
	root := filepath.Join("..", "..")
	var objs []*k8s.Object
	errs := load.Objects(context.Background(), []string{filepath.Join(root, "examples"), filepath.Join(root, "testdata", "corpus"), filepath.Join("testdata", "edge.yaml")},
		load.Options{Limits: load.DefaultLimits}, func(o *k8s.Object) { objs = append(objs, o) })
	if len(objs) < 1000 {
		t.Fatalf("loaded %d objects (%d errors), want the corpus", len(objs), len(errs))
	}
	return objs
}

// TestTranslationsMatchControls holds every CEL translation to its Go
// control: on every object of the examples, the real-world corpus and the
// edge cases of testdata/edge.yaml, the policy fails the object (matches
// its kind and a validation is false) if and only if the Go check reports
// a violation, and the CEL never fails to evaluate.
func TestTranslationsMatchControls(t *testing.T) {
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	policies, skipped := Builtins(reg.All())
	if len(policies) != len(translations) {
		t.Fatalf("%d policies for %d translations", len(policies), len(translations))
	}
	for id := range translations {
		if _, ok := reg.Get(id); !ok {
			t.Errorf("translation for unknown control %s", id)
		}
	}
	for id := range skipReasons {
		if _, ok := translations[id]; ok {
			t.Errorf("%s is both translated and skipped", id)
		}
	}
	t.Logf("%d translated, %d skipped", len(policies), len(skipped))
	objs := corpus(t)
	for _, p := range policies {
		t.Run(p.ID, func(t *testing.T) {
			ctl, _ := reg.Get(p.ID)
			prog, err := p.Program()
			if err != nil {
				t.Fatal(err)
			}
			fails, diffs := 0, 0
			for _, obj := range objs {
				goFail := false
				if ctl.Applies(obj) {
					ctx := &control.Context{Obj: obj, Settings: &control.Settings{}}
					ctl.Check(ctx)
					goFail = len(ctx.Violations) > 0
				}
				celFail := false
				if slices.Contains(p.Kinds, obj.Kind()) {
					failed, err := prog.Eval(obj.Content)
					if err != nil {
						t.Errorf("%s %s: CEL error: %v", obj.Source.File, obj.Ref(), err)
						continue
					}
					celFail = len(failed) > 0
				}
				if goFail != celFail {
					diffs++
					if diffs <= 5 {
						t.Errorf("%s:%d %s: Go fails %v, CEL fails %v", obj.Source.File, obj.Source.Line, obj.Ref(), goFail, celFail)
					}
				}
				if goFail {
					fails++
				}
			}
			if fails == 0 {
				t.Errorf("no object of the corpus fails %s: the comparison proves nothing", p.ID)
			}
			t.Logf("%d objects, %d fail in both", len(objs), fails)
		})
	}
}
