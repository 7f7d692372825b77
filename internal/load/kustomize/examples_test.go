package kustomize_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/cli"
)

// jsonReport is the part of the JSON report these tests read.
type jsonReport struct {
	Findings []struct {
		Control string `json:"control"`
		Status  string `json:"status"`
		Object  struct {
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"object"`
		Source struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Origin string `json:"origin"`
		} `json:"source"`
	} `json:"findings"`
	Errors []struct {
		File    string `json:"file"`
		Message string `json:"message"`
	} `json:"errors"`
}

// TestCLIKustomizeExample scans examples/kustomize through the real CLI
// path: the overlay's objects come once, in namespace prod, attributed to
// the base files they were declared in or to the patch that set the
// offending field; the base alone is hardened.
func TestCLIKustomizeExample(t *testing.T) {
	example := filepath.Join("..", "..", "..", "examples", "kustomize")
	base := filepath.Join(example, "base")
	tests := []struct {
		name        string
		path        string
		wantCode    int
		wantNS      string
		wantName    string
		wantOrigin  string
		wantFail    []string
		wantNotFail []string
		// wantAt places controls' findings at a file and line: fields set
		// by the overlay's patch point into the patch, others into base.
		wantAt map[string]string
	}{
		{
			name:       "whole example",
			path:       example,
			wantCode:   1,
			wantNS:     "prod",
			wantName:   "prod-shop",
			wantOrigin: "kustomize:" + filepath.Join(example, "overlays", "prod"),
			wantFail:   []string{"privileged-container", "host-network", "privilege-escalation", "run-as-root"},
			wantAt: map[string]string{
				"privileged-container": filepath.Join(example, "overlays", "prod", "debug-patch.yaml") + ":16",
				"host-network":         filepath.Join(example, "overlays", "prod", "debug-patch.yaml") + ":9",
				"image-not-pinned":     filepath.Join(base, "deployment.yaml") + ":23",
			},
		},
		{
			name:        "base alone",
			path:        base,
			wantNS:      "",
			wantName:    "shop",
			wantOrigin:  "kustomize:" + base,
			wantNotFail: []string{"privileged-container", "host-network", "privilege-escalation", "run-as-root"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Run([]string{"scan", "-o", "json", "--fail-on", "critical", tt.path}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
			var r jsonReport
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("report (exit %d, stderr %s): %v", code, errOut.String(), err)
			}
			if len(r.Errors) > 0 {
				t.Fatalf("input errors: %+v", r.Errors)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			failed := map[string]bool{}
			objects := map[string]bool{}
			for _, f := range r.Findings {
				if at, ok := tt.wantAt[f.Control]; ok {
					if got := f.Source.File + ":" + strconv.Itoa(f.Source.Line); got != at {
						t.Errorf("%s: at %s, want %s", f.Control, got, at)
					}
				} else if dir := filepath.Dir(f.Source.File); dir != base && dir != filepath.Join(example, "overlays", "prod") {
					t.Errorf("%s: file %q, want a file of the base or the overlay", f.Control, f.Source.File)
				}
				if f.Source.Line < 1 {
					t.Errorf("%s: no line", f.Control)
				}
				if f.Source.Origin != tt.wantOrigin {
					t.Errorf("%s: origin %q, want %q", f.Control, f.Source.Origin, tt.wantOrigin)
				}
				if f.Object.Namespace != tt.wantNS || f.Object.Name != tt.wantName {
					t.Errorf("%s: object %s/%s, want %s/%s", f.Control, f.Object.Namespace, f.Object.Name, tt.wantNS, tt.wantName)
				}
				objects[f.Object.Kind+"/"+f.Object.Namespace+"/"+f.Object.Name] = true
				if f.Status == "fail" {
					failed[f.Control] = true
				}
			}
			for _, id := range tt.wantFail {
				if !failed[id] {
					t.Errorf("no failing %s finding", id)
				}
			}
			for _, id := range tt.wantNotFail {
				if failed[id] {
					t.Errorf("unexpected failing %s finding", id)
				}
			}
			var names []string
			for o := range objects {
				names = append(names, o)
			}
			slices.Sort(names)
			if len(names) == 0 {
				t.Error("no findings at all")
			}
			t.Logf("objects with findings: %v", names)
		})
	}
}
