package json_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
	jsonw "github.com/rampart-dev/rampart/internal/report/json"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func TestGolden(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (jsonw.Writer{}).Write(&buf, tc.Result, report.Options{}); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.json"), buf.Bytes())
		})
	}
}

// TestParallelEncodingMatchesEncodingJSON checks that a report large enough
// to be encoded by several workers is byte for byte what encoding/json
// writes with two-space indentation.
func TestParallelEncodingMatchesEncodingJSON(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 4099} {
		r := &report.Result{SchemaVersion: report.SchemaVersion}
		for i := range n {
			r.Findings = append(r.Findings, report.Finding{
				Control: fmt.Sprintf("c-%d", i%7), Severity: "high", Status: "fail",
				Object:  k8s.Ref{Kind: "Pod", Name: fmt.Sprintf("p-%d", i)},
				Message: fmt.Sprintf("finding <%d> & more", i),
			})
		}
		var got bytes.Buffer
		if err := (jsonw.Writer{}).Write(&got, r, report.Options{}); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		norm := *r
		if norm.Findings == nil {
			norm.Findings = []report.Finding{}
		}
		norm.Errors, norm.Controls, norm.Frameworks = []report.InputError{}, []report.ControlResult{}, []report.FrameworkScore{}
		norm.Summary.ByStatus, norm.Summary.BySeverity = map[string]int{}, map[string]int{}
		if err := enc.Encode(&norm); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d findings: output differs from encoding/json (%d vs %d bytes)", n, got.Len(), want.Len())
		}
	}
}

// failingWriter fails every write after the first limit bytes.
type failingWriter struct{ limit int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		return 0, errors.New("disk full")
	}
	w.limit -= len(p)
	return len(p), nil
}

// TestWriteErrorStopsEncoding checks that a failing output ends the write
// with the error, without a deadlock, wherever it fails.
func TestWriteErrorStopsEncoding(t *testing.T) {
	r := &report.Result{}
	for i := range 5000 {
		r.Findings = append(r.Findings, report.Finding{Control: "c", Object: k8s.Ref{Name: fmt.Sprint(i)}})
	}
	for _, limit := range []int{0, 100, 50_000, 500_000} {
		err := (jsonw.Writer{}).Write(&failingWriter{limit: limit}, r, report.Options{})
		if err == nil || err.Error() != "disk full" {
			t.Errorf("limit %d: err = %v, want disk full", limit, err)
		}
	}
}
