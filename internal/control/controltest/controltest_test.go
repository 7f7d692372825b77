package controltest

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// recorder is a testing.TB that records failures instead of stopping the
// test, so that the helpers' own failures can be asserted. The helpers
// return right after a Fatal, which makes that safe.
type recorder struct {
	testing.TB
	fatals, errs []string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatals = append(r.fatals, fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// pods is a family of two controls: a per-object check on Pods that fails
// at spec.hostPID (with the message in the pod's "msg" label, so that an
// empty message can be produced) and a cross-object check failing every
// entry labelled bad=yes (the inventory keeps the labels of Namespaces).
func pods() ([]*control.Control, error) {
	return []*control.Control{
		{
			Metadata: control.Metadata{ID: "pod-host-pid"},
			Kinds:    []string{"Pod"},
			Check: func(ctx *control.Context) {
				if pid, _ := k8s.Bool(k8s.Map(ctx.Obj.Content, "spec"), "hostPID"); pid {
					ctx.Fail("spec.hostPID", "", k8s.StringMap(k8s.Map(ctx.Obj.Content, "metadata"), "labels")["msg"])
				}
				if len(ctx.Settings.AllowedRegistries) > 0 {
					ctx.Fail("settings", "", "saw "+strings.Join(ctx.Settings.AllowedRegistries, ","))
				}
			},
		},
		{
			Metadata: control.Metadata{ID: "bad-label"},
			Cross: func(cc *control.CrossContext) {
				for _, e := range cc.Inv.Entries() {
					cc.Evaluate(e)
					if e.Labels["bad"] == "yes" {
						cc.Fail(e, control.Violation{Path: "metadata.labels.bad", Message: "bad"})
					}
				}
			},
		},
	}, nil
}

func broken() ([]*control.Control, error) { return nil, errors.New("metadata missing") }

const (
	hostPod  = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {msg: uses host PID}}\nspec:\n  hostPID: true\n"
	plainPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  hostPID: false\n"
	badNS    = "apiVersion: v1\nkind: Namespace\nmetadata: {name: c, labels: {bad: 'yes'}}\n"
)

func TestByID(t *testing.T) {
	tests := []struct {
		name      string
		family    Family
		id        string
		wantFatal string // "" means the control is found
	}{
		{name: "found", family: pods, id: "bad-label"},
		{name: "unknown id", family: pods, id: "nope", wantFatal: "no control nope"},
		{name: "family fails to bind", family: broken, id: "bad-label", wantFatal: "metadata missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			c := ByID(r, tt.family, tt.id)
			if tt.wantFatal == "" {
				if len(r.fatals) > 0 || c == nil || c.ID != tt.id {
					t.Fatalf("ByID = %v, fatals %q", c, r.fatals)
				}
				return
			}
			if c != nil || len(r.fatals) == 0 || r.fatals[0] != tt.wantFatal {
				t.Errorf("ByID = %v, fatals %q, want first fatal %q", c, r.fatals, tt.wantFatal)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		one       bool
		wantKinds []string
		wantFatal string // prefix of the first fatal, "" for none
	}{
		{name: "several documents", doc: hostPod + "---\n" + badNS, wantKinds: []string{"Pod", "Namespace"}},
		{name: "one object", doc: plainPod, one: true, wantKinds: []string{"Pod"}},
		{name: "two objects where one is wanted", doc: hostPod + "---\n" + badNS, one: true, wantFatal: "want 1 object, got 2"},
		{name: "malformed yaml", doc: "kind: [Pod\n", wantFatal: "decode: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			var objs []*k8s.Object
			if tt.one {
				if o := DecodeOne(r, tt.doc); o != nil {
					objs = append(objs, o)
				}
			} else {
				objs = Decode(r, tt.doc)
			}
			if tt.wantFatal != "" {
				if len(r.fatals) == 0 || !strings.HasPrefix(r.fatals[0], tt.wantFatal) {
					t.Errorf("fatals %q, want one starting %q", r.fatals, tt.wantFatal)
				}
				return
			}
			if len(r.fatals) > 0 {
				t.Fatalf("unexpected fatals %q", r.fatals)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.Kind())
				if o.Source.File != "test.yaml" {
					t.Errorf("source file %q, want test.yaml", o.Source.File)
				}
			}
			if !reflect.DeepEqual(kinds, tt.wantKinds) {
				t.Errorf("kinds %q, want %q", kinds, tt.wantKinds)
			}
		})
	}
}

func TestRun(t *testing.T) {
	c := ByID(t, pods, "pod-host-pid")
	tests := []struct {
		name        string
		doc         string
		settings    *control.Settings
		wantApplied bool
		want        []string
	}{
		{name: "violation", doc: hostPod, wantApplied: true, want: []string{"spec.hostPID"}},
		{name: "no violation", doc: plainPod, wantApplied: true},
		{name: "settings reach the check", doc: plainPod, settings: &control.Settings{AllowedRegistries: []string{"ghcr.io"}}, wantApplied: true, want: []string{"settings"}},
		{name: "kind not applicable", doc: badNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := DecodeOne(t, tt.doc)
			if tt.settings == nil {
				applied, vs := Apply(t, c, obj)
				if applied != tt.wantApplied || !reflect.DeepEqual(Paths(vs), tt.want) {
					t.Errorf("Apply = %v, %q; want %v, %q", applied, Paths(vs), tt.wantApplied, tt.want)
				}
			}
			if !tt.wantApplied {
				return
			}
			if got := Paths(RunWith(t, c, obj, tt.settings)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RunWith paths %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("cross control has no check", func(t *testing.T) {
		r := &recorder{TB: t}
		if vs := Run(r, ByID(t, pods, "bad-label"), DecodeOne(t, plainPod)); vs != nil || len(r.fatals) != 1 {
			t.Errorf("Run = %v, fatals %q; want one fatal", vs, r.fatals)
		}
	})
}

func TestCheckDoc(t *testing.T) {
	tests := []struct {
		name        string
		doc         string
		wantApplied bool
		wantPaths   []string
		wantErrs    int
	}{
		{name: "violation with message", doc: hostPod, wantApplied: true, wantPaths: []string{"spec.hostPID"}},
		{name: "violation without message", doc: strings.Replace(hostPod, "msg: uses host PID", "msg: ''", 1), wantApplied: true, wantPaths: []string{"spec.hostPID"}, wantErrs: 1},
		{name: "passing", doc: plainPod, wantApplied: true},
		{name: "not applicable", doc: badNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			applied, paths := CheckDoc(r, pods, "pod-host-pid", tt.doc)
			if applied != tt.wantApplied || !reflect.DeepEqual(paths, tt.wantPaths) {
				t.Errorf("CheckDoc = %v, %q; want %v, %q", applied, paths, tt.wantApplied, tt.wantPaths)
			}
			if len(r.errs) != tt.wantErrs || len(r.fatals) > 0 {
				t.Errorf("errors %q, fatals %q; want %d errors", r.errs, r.fatals, tt.wantErrs)
			}
		})
	}
}

func TestExpectCheck(t *testing.T) {
	tests := []struct {
		name       string
		doc        string
		applied    bool
		want       []string
		wantFatals int
		wantErrs   int
	}{
		{name: "as expected", doc: hostPod, applied: true, want: []string{"spec.hostPID"}},
		{name: "passing as expected", doc: plainPod, applied: true},
		{name: "not applicable as expected", doc: badNS},
		{name: "applies unexpectedly", doc: plainPod, wantFatals: 1},
		{name: "other paths", doc: hostPod, applied: true, want: []string{"spec.hostIPC"}, wantErrs: 1},
		{name: "violation where none is expected", doc: hostPod, applied: true, wantErrs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			ExpectCheck(r, pods, "pod-host-pid", tt.doc, tt.applied, tt.want)
			if len(r.fatals) != tt.wantFatals || len(r.errs) != tt.wantErrs {
				t.Errorf("fatals %q, errors %q; want %d fatals, %d errors", r.fatals, r.errs, tt.wantFatals, tt.wantErrs)
			}
		})
	}
}

func TestCross(t *testing.T) {
	objs := Decode(t, hostPod+"---\n"+badNS+"---\n"+plainPod)
	cc := Cross(t, ByID(t, pods, "bad-label"), objs)
	if len(cc.Evaluated) != 3 {
		t.Errorf("evaluated %d entries, want 3", len(cc.Evaluated))
	}
	if got, want := CrossFindings(cc, cc.Inv.Entries()), []string{"Namespace/c metadata.labels.bad"}; !reflect.DeepEqual(got, want) {
		t.Errorf("violations %q, want %q", got, want)
	}
	if got := CrossFindings(cc, cc.Evaluated[:1]); got != nil {
		t.Errorf("violations on the first entry only = %q, want none", got)
	}
	r := &recorder{TB: t}
	if cc := Cross(r, ByID(t, pods, "pod-host-pid"), objs); cc != nil || len(r.fatals) != 1 {
		t.Errorf("Cross of a per-object control = %v, fatals %q; want one fatal", cc, r.fatals)
	}
}

func TestCorpus(t *testing.T) {
	files := CorpusFiles(t)
	objs := DecodeFiles(t, files)
	if len(files) < 100 || len(objs) < len(files) {
		t.Errorf("corpus too small: %d files, %d objects", len(files), len(objs))
	}
	prefix := filepath.FromSlash(CorpusDir) + string(filepath.Separator)
	for _, f := range files {
		if !strings.HasPrefix(f.Name, prefix) || len(f.Data) == 0 {
			t.Errorf("file %q (%d bytes) is not a corpus manifest", f.Name, len(f.Data))
		}
	}
	r := &recorder{TB: t}
	if got := ManifestFiles(r, "testdata/no-such-dir"); got != nil || len(r.fatals) == 0 {
		t.Errorf("ManifestFiles of a missing directory = %d files, fatals %q; want a fatal", len(got), r.fatals)
	}
}

// BenchmarkDecodeCorpus is the baseline the families' BenchmarkControlsCorpus
// compare with: decoding the real-world corpus.
func BenchmarkDecodeCorpus(b *testing.B) {
	files := CorpusFiles(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			load.Decode(load.Unit{File: f.Name}, f.Data, load.DefaultLimits, func(*k8s.Object) {})
		}
	}
}
