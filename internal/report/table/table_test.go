package table

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func render(t *testing.T, r *report.Result, opts report.Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := (Writer{}).Write(&buf, r, opts); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.txt"), []byte(render(t, tc.Result, report.Options{})))
		})
	}
	t.Run("scan-color-100", func(t *testing.T) {
		out := render(t, reporttest.Scan(t, reporttest.Dir()), report.Options{Color: true, Width: 100})
		testutil.Golden(t, filepath.Join("testdata", "scan-color-100.golden.txt"), []byte(out))
	})
}

// TestWidth checks that no line of the plain output is wider than asked and
// that nothing in it can drive the terminal.
func TestWidth(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		for _, width := range []int{40, 80, 132} {
			t.Run(tc.Name, func(t *testing.T) {
				out := render(t, tc.Result, report.Options{Width: width})
				if strings.ContainsRune(out, 0x1b) {
					t.Error("escape character in uncoloured output")
				}
				for i, l := range strings.Split(out, "\n") {
					if n := utf8.RuneCountInString(l); n > width {
						t.Errorf("width %d: line %d has %d runes: %q", width, i+1, n, l)
					}
				}
			})
		}
	}
}

func TestContent(t *testing.T) {
	tests := []struct {
		name   string
		result *report.Result
		want   []string
		absent []string
	}{
		{name: "no findings", result: reporttest.Scan(t, filepath.Join(reporttest.Dir(), "clean.yaml")),
			want: []string{"No findings.", "Scanned 1 object in 1 file with 5 controls.", "0 critical, 0 high"}},
		{name: "scan", result: reporttest.Scan(t, reporttest.Dir()),
			want: []string{"CRITICAL test-privileged  Deployment/shop/web (app)", "workloads.yaml:22  container \"app\" runs privileged",
				"[excepted]", "excepted by annotation: needs host access", "expired on 2024-01-01", "[error]",
				"Input errors (1):", "broken.yaml:5", "3 excepted", "Test Framework 0.0% (0/3)"}},
		{name: "handmade", result: reporttest.Handmade(),
			want:   []string{`\x01\x1b[31m`, "Framework <A> 33.3% (1/3)", "Empty n/a", "[warn]"},
			absent: []string{"\x1b", "\x01"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.result, report.Options{Width: 200})
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("output contains %q", a)
				}
			}
		})
	}
}

func TestSeverityOrder(t *testing.T) {
	out := render(t, reporttest.Handmade(), report.Options{Width: 200})
	last := -1
	for _, sev := range []string{"CRITICAL ", "HIGH ", "MEDIUM ", "LOW ", "INFO "} {
		i := strings.Index(out, "\n"+sev)
		if sev == "CRITICAL " && strings.HasPrefix(out, sev) {
			i = 0
		}
		if i < 0 || i < last {
			t.Errorf("%s block at %d, previous at %d", sev, i, last)
		}
		last = i
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		first, rest int
		want        []string
	}{
		{name: "fits", text: "a b c", first: 10, rest: 10, want: []string{"a b c"}},
		{name: "breaks at spaces", text: "aaaa bbbb cccc dddd", first: 10, rest: 10, want: []string{"aaaa bbbb", "cccc dddd"}},
		{name: "narrower first line", text: "aaaa bbbb cccc dddd eeee", first: 10, rest: 14, want: []string{"aaaa bbbb", "cccc dddd eeee"}},
		{name: "cuts long words", text: "x " + strings.Repeat("y", 25), first: 10, rest: 10, want: []string{"x", "yyyyyyyyyy", "yyyyyyyyyy", "yyyyy"}},
		{name: "empty", text: "", first: 10, rest: 10, want: []string{""}},
		{name: "multibyte", text: "ééééé ééééé", first: 10, rest: 10, want: []string{"ééééé", "ééééé"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := wrap(tc.text, tc.first, tc.rest)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("wrap = %q, want %q", got, tc.want)
			}
		})
	}
}
