package audit

import (
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

func TestBuild(t *testing.T) {
	anon := &Check{ID: "cis-1.2.1", Title: "anonymous auth off", Severity: control.SeverityHigh, Item: "1.2.1"}
	prof := &Check{ID: "cis-1.2.15", Title: "profiling off", Severity: control.SeverityLow, Item: "1.2.15"}
	manual := &Check{ID: "cis-1.1.9", Title: "CNI file permissions", Severity: control.SeverityMedium, Item: "1.1.9"}
	etcd := &Check{ID: "cis-2.2", Title: "etcd client cert auth", Severity: control.SeverityCritical, Item: "2.2"}
	api1 := k8s.Ref{Kind: "Process", Name: "kube-apiserver (pid 10)"}
	api2 := k8s.Ref{Kind: "Process", Name: "kube-apiserver (pid 20)"}
	results := []Result{
		{Check: anon, Target: api1, Status: control.StatusPass, Evidence: &report.Evidence{Value: "--anonymous-auth=false", Origin: "flag", Location: "/proc/10/cmdline"}},
		{Check: anon, Target: api2, Status: control.StatusFail, Message: "anonymous requests are allowed (default true)", Evidence: &report.Evidence{Origin: "default"}},
		{Check: prof, Target: api1, Status: control.StatusPass},
		{Check: manual, Target: api1, Status: control.StatusManual},
		{Check: etcd, Target: k8s.Ref{Kind: "Process", Name: "etcd"}, Status: control.StatusNotApplicable, Message: "etcd is not running on this node"},
	}
	r := Build("test", Framework{ID: "cis-node", Name: "CIS", Version: "1.10"}, []*Check{anon, prof, manual, etcd}, results, nil)

	if got := r.Findings[0]; got.Status != "fail" || got.Object != api2 || got.Evidence.Origin != "default" {
		t.Errorf("first finding = %+v, want the failure", got)
	}
	if got := r.Findings[len(r.Findings)-1].Status; got != "not-applicable" {
		t.Errorf("last finding status = %s, want not-applicable", got)
	}
	wantItems := map[string]string{"1.2.1": "fail", "1.2.15": "pass", "1.1.9": "manual", "2.2": "not-applicable"}
	fw := r.Frameworks[0]
	for _, it := range fw.Items {
		if wantItems[it.ID] != it.Status {
			t.Errorf("item %s status %s, want %s", it.ID, it.Status, wantItems[it.ID])
		}
	}
	if fw.Controls != 2 || fw.Passed != 1 || fw.Failed != 1 || fw.Score != 50 {
		t.Errorf("score = %+v, want 1 of 2 scored items passing", fw)
	}
	if c := r.Controls[0]; c.ID != "cis-1.2.1" || c.Evaluated != 2 || c.Failed != 1 {
		t.Errorf("control tally = %+v", c)
	}
	if c := r.Controls[3]; c.Evaluated != 0 {
		t.Errorf("not-applicable check evaluated %d targets, want 0", c.Evaluated)
	}
	if r.Summary.ByStatus["pass"] != 2 || r.Summary.BySeverity["high"] != 1 || r.Summary.Findings != 5 || r.Summary.Objects != 3 {
		t.Errorf("summary = %+v", r.Summary)
	}
}

// TestBuildErrorItemIsValid checks that an item whose every result is an
// error gets status error, which the report schema accepts.
func TestBuildErrorItemIsValid(t *testing.T) {
	c := &Check{ID: "image-unsigned", Title: "unsigned", Severity: control.SeverityHigh, Item: "T1525"}
	r := Build("test", Framework{ID: "mitre"}, []*Check{c}, []Result{{Check: c, Target: k8s.Ref{Kind: "Image", Name: "x"}, Status: control.StatusError}}, nil)
	if got := r.Frameworks[0].Items[0].Status; got != "error" {
		t.Fatalf("item status %q, want error", got)
	}
}
