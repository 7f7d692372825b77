package json

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// reference encodes f the way the report did before findingEncoder: with
// encoding/json, prefix "    ", indent "  ", HTML escaping off.
func reference(t testing.TB, f *report.Finding) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnewline\nreturn\r", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "line\u2028sep\u2029para", "invalid \xff\xfe utf-8 \xc3", "emoji 🔥 and é",
	"\xed\xa0\x80 surrogate", "ends with \\",
}

func TestFindingEncoderMatchesEncodingJSON(t *testing.T) {
	enc := newFindingEncoder()
	for i, s := range trickyStrings {
		cases := []report.Finding{
			{Control: s, Title: s, Severity: s, Status: s, Message: s, Remediation: s},
			{
				Control: "c", Title: "t", Severity: "high", Status: "excepted",
				Object:    k8s.Ref{APIVersion: s, Kind: s, Namespace: s, Name: s},
				Container: s, Path: s,
				Source:  k8s.Source{File: s, Line: i - 3, Origin: s, Cluster: s, Server: s, ResourceVersion: s},
				Message: s, Remediation: s,
				Exception: &report.Exception{Source: s, Reason: s, Expires: s, Expired: i%2 == 0},
				Evidence:  &report.Evidence{Value: s, Origin: s, Location: s},
			},
			{Exception: &report.Exception{}, Evidence: &report.Evidence{}},
			{Evidence: &report.Evidence{Origin: s, Location: s}},
		}
		for _, f := range cases {
			// Twice: the second time the strings come from the cache.
			for range 2 {
				got := enc.appendFinding(nil, &f)
				if want := reference(t, &f); !bytes.Equal(got, want) {
					t.Errorf("%q:\n got %s\nwant %s", s, got, want)
				}
			}
		}
	}
}

// TestFindingEncoderCoversEveryField fails when a field is added to one of
// the encoded types, so that findingEncoder is taught about it.
func TestFindingEncoderCoversEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[report.Finding]():   12,
		reflect.TypeFor[report.Evidence]():  3,
		reflect.TypeFor[k8s.Ref]():          4,
		reflect.TypeFor[k8s.Source]():       6,
		reflect.TypeFor[report.Exception](): 4,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields, findingEncoder encodes %d: update encode.go", typ, typ.NumField(), n)
		}
	}
}

func FuzzFindingEncoder(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, s, 3, true)
	}
	f.Fuzz(func(t *testing.T, a, b string, line int, exc bool) {
		fd := report.Finding{
			Control: a, Title: b, Severity: a, Status: b,
			Object: k8s.Ref{Kind: a, Name: b}, Container: b, Path: a,
			Source:  k8s.Source{File: b, Line: line, Server: a},
			Message: a + b, Remediation: b,
		}
		if exc {
			fd.Exception = &report.Exception{Source: a, Reason: b, Expired: line%2 == 0}
			fd.Evidence = &report.Evidence{Value: b, Origin: a}
		}
		got := newFindingEncoder().appendFinding(nil, &fd)
		if want := reference(t, &fd); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
