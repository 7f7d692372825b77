package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/bench"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// verdictKey identifies one outcome for comparison.
func verdictKey(control, path, message, status string) string {
	return fmt.Sprintf("%s|%s|%s|%s", control, path, message, status)
}

// TestEvaluateMatchesScan holds the admission path to the scan path: on
// every object of the examples and the real-world corpus, Evaluate reports
// exactly the per-object findings (control, path, message, status) that a
// scan of the same object reports, with exceptions applied alike.
func TestEvaluateMatchesScan(t *testing.T) {
	eng, err := bench.NewEngine(engine.WithExceptions([]engine.Exception{
		{Controls: []string{"image-tag-latest"}, Reason: "pinned by digest in CD"},
		{Controls: []string{"run-as-root"}, Namespaces: []string{"kube-*"}, Reason: "expired on purpose", Expires: "2000-01-01"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	cross := map[string]bool{}
	for _, c := range reg.All() {
		cross[c.ID] = c.Cross != nil
	}
	root := filepath.Join("..", "..")
	var objs []*k8s.Object
	errs := load.Objects(context.Background(), []string{filepath.Join(root, "examples"), filepath.Join(root, "testdata", "corpus")},
		load.Options{Limits: load.DefaultLimits}, func(o *k8s.Object) { objs = append(objs, o) })
	if len(objs) < 1000 {
		t.Fatalf("loaded %d objects (%d errors), want the corpus", len(objs), len(errs))
	}
	checked, verdicts := 0, 0
	for _, obj := range objs {
		var got []string
		for _, v := range eng.Evaluate(obj) {
			got = append(got, verdictKey(v.Control.ID, v.Violation.Path, v.Violation.Message, string(v.Status)))
		}
		s := eng.NewSession()
		s.Add(obj)
		var want []string
		for _, f := range s.Finish().Findings {
			if cross[f.Control] {
				continue // cross-object controls are not part of Evaluate
			}
			want = append(want, verdictKey(f.Control, f.Path, f.Message, f.Status))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: Evaluate\n  %q\nscan\n  %q", obj.Source.File, obj.Ref(), got, want)
		}
		checked++
		verdicts += len(got)
	}
	t.Logf("%d objects, %d verdicts: Evaluate and scan agree", checked, verdicts)
}

// BenchmarkEvaluateDeployment evaluates a typical Deployment (two
// containers, probes, resources, a security context with one weakness)
// with every built-in control, as the admission webhook does per request.
func BenchmarkEvaluateDeployment(b *testing.B) {
	eng, err := bench.NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "typical-deployment.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var obj *k8s.Object
	load.Decode(load.Unit{Path: "typical-deployment.yaml"}, data, load.DefaultLimits, func(o *k8s.Object) { obj = o })
	if obj == nil {
		b.Fatal("no object decoded")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(eng.Evaluate(obj))
	}
	b.ReportMetric(float64(n), "verdicts")
}

// TestEvaluateWithCrossObject checks that a Service publishing a Dashboard
// workload fails dashboard-exposed when the workload is given as related,
// and not without it.
func TestEvaluateWithCrossObject(t *testing.T) {
	eng, err := bench.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	decode := func(doc string) *k8s.Object {
		var obj *k8s.Object
		load.Decode(load.Unit{Path: "t.yaml"}, []byte(doc), load.DefaultLimits, func(o *k8s.Object) { obj = o })
		if obj == nil {
			t.Fatalf("no object in %s", doc)
		}
		return obj
	}
	svc := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"console","namespace":"ops"},"spec":{"type":"LoadBalancer","selector":{"app":"dash"},"ports":[{"port":443}]}}`
	dash := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kubernetes-dashboard","namespace":"ops"},"spec":{"selector":{"matchLabels":{"app":"dash"}},"template":{"metadata":{"labels":{"app":"dash"}},"spec":{"containers":[{"name":"d","image":"kubernetesui/dashboard:v2.7.0"}]}}}}`
	other := strings.Replace(strings.Replace(dash, "kubernetes-dashboard", "web", 1), "kubernetesui/dashboard:v2.7.0", "nginx:1.27", 1)
	has := func(vs []engine.Verdict) bool {
		for _, v := range vs {
			if v.Control.ID == "dashboard-exposed" && v.Status == "fail" {
				return true
			}
		}
		return false
	}
	if !has(eng.EvaluateWith(decode(svc), []*k8s.Object{decode(dash)})) {
		t.Error("Service exposing the Dashboard: no dashboard-exposed verdict")
	}
	if has(eng.EvaluateWith(decode(svc), []*k8s.Object{decode(other)})) {
		t.Error("Service exposing another workload: dashboard-exposed verdict")
	}
	if has(eng.Evaluate(decode(svc))) {
		t.Error("Evaluate ran a cross-object control")
	}
}
