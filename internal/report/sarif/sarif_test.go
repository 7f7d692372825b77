package sarif

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func render(t *testing.T, w Writer, r *report.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Write(&buf, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	w := Writer{Lookup: reporttest.Lookup(t), BaseDir: "/nonexistent/base"}
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.sarif"), render(t, w, tc.Result))
		})
	}
}

// officialSchemas compiles the official OASIS SARIF 2.1.0 schema (errata01)
// in testdata (see
// PROVENANCE.md) without network access.
func officialSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	out := map[string]*jsonschema.Schema{}
	for _, file := range []string{"sarif-schema-2.1.0.json"} {
		f, err := os.Open(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.UseLoader(offline{})
		url := "file:///sarif/" + file
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("compiling %s: %v", file, err)
		}
		out[file] = sch
	}
	return out
}

// offline refuses every load: all schemas must be embedded or added.
type offline struct{}

func (offline) Load(url string) (any, error) { return nil, os.ErrNotExist }

func TestOfficialSchema(t *testing.T) {
	schemas := officialSchemas(t)
	type tcase struct {
		reporttest.Case
		w Writer
	}
	var cases []tcase
	for _, c := range reporttest.Cases(t) {
		cases = append(cases, tcase{c, Writer{Lookup: reporttest.Lookup(t)}})
	}
	for _, tc := range cases {
		for name, sch := range schemas {
			t.Run(tc.Name+"/"+name, func(t *testing.T) {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, tc.w, tc.Result)))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("output is not valid SARIF 2.1.0: %v", err)
				}
			})
		}
	}
	// The schemas must also reject a broken log, or the check above proves nothing.
	for name, sch := range schemas {
		t.Run("rejects/"+name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"level":"fatal","message":{"text":"x"}}]}]}`)))
			if err != nil {
				t.Fatal(err)
			}
			if sch.Validate(inst) == nil {
				t.Error("schema accepted an invalid log")
			}
		})
	}
}

// TestOfficialSchemaCatalogue validates real scans with the whole built-in
// catalogue against the official schemas.
func TestOfficialSchemaCatalogue(t *testing.T) {
	schemas := officialSchemas(t)
	inputs := map[string][]string{
		"fixtures": {reporttest.Dir()},
		"corpus":   {reporttest.Corpus("GoogleCloudPlatform+microservices-demo"), reporttest.Corpus("kubernetes+examples")},
	}
	for _, name := range []string{"fixtures", "corpus"} {
		t.Run(name, func(t *testing.T) {
			out := render(t, Writer{Lookup: reporttest.LibraryLookup(t)}, reporttest.LibraryScan(t, inputs[name]...))
			for file, sch := range schemas {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("output is not valid SARIF 2.1.0 (%s): %v", file, err)
				}
			}
		})
	}
}

func TestContent(t *testing.T) {
	res := reporttest.Scan(t, reporttest.Dir())
	var lg log
	if err := json.Unmarshal(render(t, Writer{Lookup: reporttest.Lookup(t)}, res), &lg); err != nil {
		t.Fatal(err)
	}
	rn := lg.Runs[0]
	if got, want := len(rn.Tool.Driver.Rules), len(res.Controls); got != want {
		t.Errorf("rules = %d, want one per control (%d)", got, want)
	}
	if got, want := len(rn.Results), len(res.Findings); got != want {
		t.Errorf("results = %d, want one per finding (%d)", got, want)
	}
	rules := map[string]rule{}
	for _, ru := range rn.Tool.Driver.Rules {
		rules[ru.ID] = ru
	}
	priv := rules["test-privileged"]
	if priv.Properties.SecuritySeverity != "9.5" || priv.DefaultConfiguration.Level != "error" || priv.HelpURI == "" {
		t.Errorf("test-privileged rule = %+v", priv)
	}
	if !bytes.Contains([]byte(priv.Help.Markdown), []byte("```yaml")) {
		t.Errorf("help markdown lacks the YAML fix: %q", priv.Help.Markdown)
	}
	var suppressed, rejected, review int
	for i, r := range rn.Results {
		f := res.Findings[i]
		if rn.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleIndex %d does not point to %s", i, r.RuleIndex, r.RuleID)
		}
		if pl := r.Locations[0].PhysicalLocation; pl == nil || pl.Region == nil || pl.Region.StartLine != f.Source.Line || pl.ArtifactLocation.URIBaseID != SrcRoot {
			t.Errorf("result %d: location %+v does not match %+v", i, r.Locations[0].PhysicalLocation, f.Source)
		}
		for _, s := range r.Suppressions {
			if s.Status == "accepted" && (s.Kind == "inSource" || s.Kind == "external") {
				suppressed++
			}
		}
		if r.Properties.ExpiredException != "" {
			rejected++
			if len(r.Suppressions) > 0 {
				t.Errorf("result %d: expired exception still suppresses", i)
			}
		}
		if r.Kind == "review" {
			review++
		}
	}
	if suppressed != res.Summary.ByStatus["excepted"] || rejected != 1 || review != res.Summary.ByStatus["error"] {
		t.Errorf("suppressed=%d rejected=%d review=%d, summary %v", suppressed, rejected, review, res.Summary.ByStatus)
	}
	notes := rn.Invocations[0].ToolExecutionNotifications
	if want := len(res.Errors) + res.Summary.ByStatus["error"]; len(notes) != want {
		t.Errorf("notifications = %d, want %d", len(notes), want)
	}
	if rn.Invocations[0].ExecutionSuccessful {
		t.Error("executionSuccessful with input errors")
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name, sev, level, score string
	}{
		{name: "critical", sev: "critical", level: "error", score: "9.5"},
		{name: "high", sev: "high", level: "error", score: "8.0"},
		{name: "medium", sev: "medium", level: "warning", score: "5.5"},
		{name: "low", sev: "low", level: "note", score: "3.0"},
		{name: "info", sev: "info", level: "note", score: "1.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Level(tc.sev); got != tc.level {
				t.Errorf("Level = %q, want %q", got, tc.level)
			}
			if got := SecuritySeverity(tc.sev); got != tc.score {
				t.Errorf("SecuritySeverity = %q, want %q", got, tc.score)
			}
		})
	}
}

func TestArtifactURI(t *testing.T) {
	tests := []struct {
		name, file, base, uri, baseID string
	}{
		{name: "relative", file: "deploy/app.yaml", base: "/repo", uri: "deploy/app.yaml", baseID: SrcRoot},
		{name: "dot relative", file: "./deploy/../k8s/app.yaml", base: "/repo", uri: "k8s/app.yaml", baseID: SrcRoot},
		{name: "absolute under base", file: "/repo/k8s/app.yaml", base: "/repo", uri: "k8s/app.yaml", baseID: SrcRoot},
		{name: "absolute outside base", file: "/elsewhere/app.yaml", base: "/repo", uri: "file:///elsewhere/app.yaml"},
		{name: "sibling prefix is outside", file: "/repo2/app.yaml", base: "/repo", uri: "file:///repo2/app.yaml"},
		{name: "spaces and percent", file: "my dir/100%.yaml", base: "/repo", uri: "my%20dir/100%25.yaml", baseID: SrcRoot},
		{name: "colon in first segment", file: "a:b.yaml", base: "/repo", uri: "./a:b.yaml", baseID: SrcRoot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uri, baseID := artifactURI(tc.file, tc.base)
			if uri != tc.uri || baseID != tc.baseID {
				t.Errorf("artifactURI(%q, %q) = %q, %q; want %q, %q", tc.file, tc.base, uri, baseID, tc.uri, tc.baseID)
			}
		})
	}
}
