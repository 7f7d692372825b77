package engine

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/report"
)

// testControls are small controls exercising the engine's mechanics.
func testControls() []*control.Control {
	return []*control.Control{
		{
			Metadata: control.Metadata{ID: "no-foo-label", Title: "foo label", Severity: control.SeverityHigh, Remediation: "remove it"},
			Check: func(c *control.Context) {
				if _, ok := c.Obj.Labels()["foo"]; ok {
					c.Fail(`metadata.labels.foo`, "", "has foo")
				}
			},
		},
		{
			Metadata: control.Metadata{ID: "pods-only", Title: "pods", Severity: control.SeverityLow},
			Kinds:    []string{"Pod"},
			Check:    func(c *control.Context) { c.Fail("spec", "", "a pod") },
		},
		{
			Metadata: control.Metadata{ID: "panics", Title: "panics", Severity: control.SeverityMedium},
			Kinds:    []string{"ConfigMap"},
			Check:    func(c *control.Context) { panic("boom") },
		},
		{
			Metadata: control.Metadata{ID: "lonely-service", Title: "service without pods", Severity: control.SeverityInfo},
			Cross: func(cc *control.CrossContext) {
				for _, svc := range cc.Inv.Kind("Service") {
					cc.Evaluate(svc)
					sel := k8s.StringMap(k8s.Map(svc.Content(), "spec"), "selector")
					matched := false
					for _, w := range cc.Inv.Workloads() {
						matched = matched || k8s.MatchSelectorMap(sel, w.Pod.Labels)
					}
					if !matched {
						cc.Fail(svc, control.Violation{Path: "spec.selector", Message: "selects nothing"})
					}
				}
			},
		},
	}
}

const manifests = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    foo: "1"
spec:
  containers: []
---
apiVersion: v1
kind: Pod
metadata:
  name: ignored
  namespace: shop
  labels: {foo: "1"}
  annotations:
    rampart.dev/ignore: "no-foo-label, pods-only"
    rampart.dev/ignore-reason: "legacy"
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: kube-system
  labels: {foo: "1"}
---
apiVersion: v1
kind: Service
metadata:
  name: svc
  namespace: shop
spec:
  selector: {app: none}
`

func scan(t *testing.T, opts ...Option) *report.Result {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	return New(testControls(), opts...).Scan(context.Background(), []string{dir}, load.Options{Limits: load.DefaultLimits})
}

func find(r *report.Result, control, name string) []report.Finding {
	var out []report.Finding
	for _, f := range r.Findings {
		if f.Control == control && f.Object.Name == name {
			out = append(out, f)
		}
	}
	return out
}

func TestEngineStatuses(t *testing.T) {
	r := scan(t)
	tests := []struct {
		name, control, object, status string
		line                          int
	}{
		{"fail with field line", "no-foo-label", "web", "fail", 7},
		{"annotation exception", "no-foo-label", "ignored", "excepted", 16},
		{"annotation exception second id", "pods-only", "ignored", "excepted", 20},
		{"kind filter", "pods-only", "web", "fail", 8},
		{"panic becomes error finding", "panics", "cm", "error", 22},
		{"cross-object control", "lonely-service", "svc", "fail", 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := find(r, tt.control, tt.object)
			if len(fs) != 1 {
				t.Fatalf("findings = %+v, want one", fs)
			}
			if fs[0].Status != tt.status || fs[0].Source.Line != tt.line {
				t.Errorf("status %s line %d, want %s line %d", fs[0].Status, fs[0].Source.Line, tt.status, tt.line)
			}
		})
	}
	if ex := find(r, "no-foo-label", "ignored")[0].Exception; ex == nil || ex.Source != "annotation" || ex.Reason != "legacy" {
		t.Errorf("exception = %+v", ex)
	}
	if got := find(r, "pods-only", "cm"); len(got) != 0 {
		t.Errorf("pods-only applied to a ConfigMap: %+v", got)
	}
	for _, c := range r.Controls {
		if c.ID == "no-foo-label" && (c.Evaluated != 4 || c.Failed != 2 || c.Excepted != 1) {
			t.Errorf("no-foo-label tally = %+v, want evaluated 4, failed 2, excepted 1", c)
		}
	}
	// Findings are sorted worst first.
	for i := 1; i < len(r.Findings); i++ {
		a, _ := control.ParseSeverity(r.Findings[i-1].Severity)
		b, _ := control.ParseSeverity(r.Findings[i].Severity)
		if a < b {
			t.Fatalf("findings not sorted by severity: %s before %s", r.Findings[i-1].Severity, r.Findings[i].Severity)
		}
	}
}

func TestConfigExceptions(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		exc        Exception
		wantStatus string
		expired    bool
	}{
		{"glob match", Exception{Controls: []string{"no-foo-*"}, Namespaces: []string{"kube-*"}, Reason: "system"}, "excepted", false},
		{"kind mismatch", Exception{Controls: []string{"no-foo-label"}, Kinds: []string{"Pod"}, Reason: "r"}, "fail", false},
		{"name glob", Exception{Names: []string{"c?"}, Reason: "r"}, "excepted", false},
		{"not yet expired", Exception{Controls: []string{"*"}, Reason: "r", Expires: "2026-06-02"}, "excepted", false},
		{"expired is reported again", Exception{Controls: []string{"*"}, Reason: "r", Expires: "2026-06-01"}, "fail", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scan(t, WithExceptions([]Exception{tt.exc}), WithClock(func() time.Time { return now }))
			fs := find(r, "no-foo-label", "cm")
			if len(fs) != 1 || fs[0].Status != tt.wantStatus {
				t.Fatalf("findings = %+v, want status %s", fs, tt.wantStatus)
			}
			if tt.expired != (fs[0].Exception != nil && fs[0].Exception.Expired) {
				t.Errorf("exception = %+v, want expired=%v", fs[0].Exception, tt.expired)
			}
		})
	}
}

func TestFrameworkScores(t *testing.T) {
	fw := &framework.Framework{ID: "t", Name: "test", Items: []framework.Item{
		{ID: "1", Controls: []string{"no-foo-label"}},
		{ID: "2", Controls: []string{"lonely-service", "pods-only"}},
		{ID: "3", Controls: []string{"not-selected"}},
	}}
	r := scan(t, WithFrameworks([]*framework.Framework{fw}))
	if len(r.Frameworks) != 1 {
		t.Fatal(r.Frameworks)
	}
	s := r.Frameworks[0]
	if s.Controls != 2 || s.Failed != 2 || s.Score != 0 {
		t.Errorf("score = %+v, want 2 items, both failing, score 0", s)
	}
	// With every failure excepted, the framework passes.
	r = scan(t, WithFrameworks([]*framework.Framework{fw}), WithExceptions([]Exception{{Reason: "all"}}))
	if s := r.Frameworks[0]; s.Score != 100 || s.Passed != 2 {
		t.Errorf("score with exceptions = %+v, want 100", s)
	}
}

func TestFilterSeverity(t *testing.T) {
	r := scan(t)
	FilterSeverity(r, control.SeverityMedium)
	for _, f := range r.Findings {
		if f.Severity == "low" || f.Severity == "info" {
			t.Errorf("finding below medium kept: %+v", f)
		}
	}
	if r.Summary.Findings != len(r.Findings) {
		t.Errorf("summary not recounted: %d vs %d", r.Summary.Findings, len(r.Findings))
	}
}

func TestSessionAddDirect(t *testing.T) {
	// The same Session serves one object at a time (admission, cluster scans).
	s := New(testControls()).NewSession()
	s.Add(k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "labels": map[string]any{"foo": "x"}}}, k8s.Source{File: "cluster"}))
	r := s.Finish()
	if len(r.Findings) != 2 || r.Summary.Objects != 1 {
		t.Errorf("findings = %+v", r.Findings)
	}
}

func TestFrameworkItemSkippedWhenNothingApplies(t *testing.T) {
	fw := &framework.Framework{ID: "t", Items: []framework.Item{
		{ID: "1", Controls: []string{"no-foo-label"}},
		{ID: "2", Controls: []string{"pods-only"}},
	}}
	s := New(testControls(), WithFrameworks([]*framework.Framework{fw})).NewSession()
	s.Add(k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}, k8s.Source{File: "x"}))
	r := s.Finish()
	fs := r.Frameworks[0]
	if fs.Controls != 1 || fs.Passed != 1 || fs.Score != 100 || fs.Items[1].Status != "skip" {
		t.Errorf("score = %+v, want item 1 pass, item 2 skipped", fs)
	}
	empty := New(testControls(), WithFrameworks([]*framework.Framework{fw})).NewSession().Finish()
	if fs := empty.Frameworks[0]; fs.Controls != 0 || fs.Score != 0 {
		t.Errorf("empty scan score = %+v, want nothing scored", fs)
	}
}

func TestSortFindingsPermutation(t *testing.T) {
	sevs := []string{"low", "critical", "info", "high", "medium"}
	var fs []report.Finding
	for i := range 500 {
		fs = append(fs, report.Finding{
			Severity: sevs[(i*7)%5], Control: []string{"b", "a", "c"}[(i*3)%3],
			Source:  k8s.Source{File: []string{"y.yaml", "x.yaml"}[(i*5)%2], Line: (i * 13) % 17},
			Message: string(rune('a' + i%26)),
		})
	}
	want := slices.Clone(fs)
	rank := map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
	slices.SortStableFunc(want, func(a, b report.Finding) int {
		return cmp.Or(cmp.Compare(rank[b.Severity], rank[a.Severity]), cmp.Compare(a.Source.File, b.Source.File),
			cmp.Compare(a.Source.Line, b.Source.Line), cmp.Compare(a.Control, b.Control), cmp.Compare(a.Message, b.Message))
	})
	sortFindings(fs)
	if !slices.Equal(fs, want) {
		t.Error("sortFindings disagrees with a plain stable sort")
	}
}

// TestSeverityOverride checks that a violation's Severity replaces the
// control's for that finding only, and that findings sort by the effective
// severity.
func TestSeverityOverride(t *testing.T) {
	raise := &control.Control{
		Metadata: control.Metadata{ID: "raise", Title: "raise", Severity: control.SeverityLow},
		Cross: func(cc *control.CrossContext) {
			for _, svc := range cc.Inv.Kind("Service") {
				cc.Evaluate(svc)
				v := control.Violation{Path: "spec", Message: "service " + svc.Ref.Name}
				if svc.Ref.Name == "hot" {
					v.Severity = control.SeverityCritical
				}
				cc.Fail(svc, v)
			}
		},
	}
	high := &control.Control{
		Metadata: control.Metadata{ID: "high", Title: "high", Severity: control.SeverityHigh},
		Kinds:    []string{"Service"},
		Check:    func(c *control.Context) { c.Fail("metadata", "", "high") },
	}
	s := New([]*control.Control{raise, high}).NewSession()
	for i, name := range []string{"cold", "hot"} {
		s.Add(k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name}, "spec": map[string]any{}},
			k8s.Source{File: "s.yaml", Line: i + 1}))
	}
	r := s.Finish()
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Control+"/"+f.Object.Name+"/"+f.Severity)
	}
	want := "raise/hot/critical high/cold/high high/hot/high raise/cold/low"
	if strings.Join(got, " ") != want {
		t.Errorf("findings = %v, want %s", got, want)
	}
	if r.Summary.BySeverity["critical"] != 1 || r.Summary.BySeverity["low"] != 1 {
		t.Errorf("by severity = %v, want one critical and one low", r.Summary.BySeverity)
	}
	for _, c := range r.Controls {
		if c.ID == "raise" && c.Severity != "low" {
			t.Errorf("control severity = %s, want low (metadata)", c.Severity)
		}
	}
}
