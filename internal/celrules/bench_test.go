package celrules_test

import (
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/control"
)

// BenchmarkEvaluateRuleDeployment evaluates the example no-latest-image-tag
// rule (two variables, a comprehension and a regex per image) on a typical
// Deployment, as a scan or the webhook does per object.
func BenchmarkEvaluateRuleDeployment(b *testing.B) {
	rules, err := celrules.LoadFiles([]string{filepath.Join("..", "..", "examples", "rules", "rules.yaml")}, celrules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var ctl *control.Control
	for _, r := range rules {
		if r.ID == "no-latest-image-tag" {
			ctl = r.Control()
		}
	}
	objs := decode(b, filepath.Join("..", "engine", "testdata", "typical-deployment.yaml"))
	if len(objs) != 1 || ctl == nil || !ctl.Applies(objs[0]) {
		b.Fatal("fixture or rule missing")
	}
	ctx := &control.Context{Obj: objs[0], Settings: &control.Settings{}}
	b.ReportAllocs()
	for b.Loop() {
		ctx.Violations = ctx.Violations[:0]
		ctl.Check(ctx)
	}
	b.ReportMetric(float64(len(ctx.Violations)), "violations")
}
