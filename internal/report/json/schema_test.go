package json_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-dev/rampart/internal/report"
	jsonw "github.com/rampart-dev/rampart/internal/report/json"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
)

const schemaPath = "../../../schema/report.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://github.com/rampart-dev/rampart/schema/report.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func render(t *testing.T, r *report.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (jsonw.Writer{}).Write(&buf, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSchemaValidatesReports validates real scan output (with excepted,
// expired, errored findings and broken inputs) and edge cases against
// schema/report.schema.json.
func TestSchemaValidatesReports(t *testing.T) {
	sch := compileSchema(t)
	cases := reporttest.Cases(t)
	cases = append(cases,
		reporttest.Case{Name: "zero-value", Result: &report.Result{SchemaVersion: report.SchemaVersion, Tool: report.Tool{Name: "rampart", Version: "dev"}}},
	)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, tc.Result)))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("report does not match the schema: %v", err)
			}
		})
	}
}

// TestSchemaCatalogue validates real scans with the whole built-in
// catalogue, over the scan fixtures and part of the real-world corpus.
func TestSchemaCatalogue(t *testing.T) {
	sch := compileSchema(t)
	inputs := map[string][]string{
		"fixtures": {reporttest.Dir()},
		"corpus":   {reporttest.Corpus("GoogleCloudPlatform+microservices-demo"), reporttest.Corpus("kubernetes+examples")},
	}
	for _, name := range []string{"fixtures", "corpus"} {
		t.Run(name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, reporttest.LibraryScan(t, inputs[name]...))))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("report does not match the schema: %v", err)
			}
		})
	}
}

// TestSchemaRejects checks that the schema catches reports that break the contract.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	base := string(render(t, reporttest.Scan(t, reporttest.Dir())))
	tests := []struct {
		name      string
		old, repl string
	}{
		{name: "unknown status", old: `"status": "excepted"`, repl: `"status": "ignored"`},
		{name: "unknown severity", old: `"severity": "critical"`, repl: `"severity": "urgent"`},
		{name: "unknown field", old: `"schemaVersion": "1"`, repl: `"schemaVersion": "1", "extra": true`},
		{name: "wrong schema version", old: `"schemaVersion": "1"`, repl: `"schemaVersion": "2"`},
		{name: "line zero", old: `"line": 22`, repl: `"line": 0`},
		{name: "null findings", old: `"findings": [`, repl: `"findings": null, "x": [`},
		{name: "bad exception source", old: `"source": "annotation"`, repl: `"source": "cli"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("fixture output lacks %q", tc.old)
			}
			doc := strings.Replace(base, tc.old, tc.repl, 1)
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err == nil {
				t.Error("schema accepted an invalid report")
			}
		})
	}
}
