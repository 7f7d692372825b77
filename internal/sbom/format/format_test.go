package format

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
	"github.com/rampart-dev/rampart/internal/testutil"
)

// testSBOM is built from the detectors' real test data: Debian packages
// (with source packages), Alpine packages, Python and npm packages.
func testSBOM(t *testing.T) *sbom.SBOM {
	t.Helper()
	open := func(p string) *os.File {
		f, err := os.Open(filepath.Join("..", "detect", "testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	deb, err := detect.ParseDpkgStatus(open("dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	apk, err := detect.ParseAPKInstalled(open("apk/installed"))
	if err != nil {
		t.Fatal(err)
	}
	py, err := detect.ParsePythonMetadata(open("python/PyYAML-6.0.METADATA"))
	if err != nil {
		t.Fatal(err)
	}
	s := &sbom.SBOM{
		Image:  sbom.Image{Ref: "registry.example/app:1.0", Digest: "sha256:" + strings.Repeat("ab", 32), Platform: "linux/amd64"},
		Distro: &sbom.Distro{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
	}
	for i := range deb {
		deb[i].Path, deb[i].Layer = "var/lib/dpkg/status", "sha256:"+strings.Repeat("01", 32)
	}
	s.Packages = append(append(append(s.Packages, deb[:5]...), apk[:2]...), *py)
	return s
}

func compile(t *testing.T, main string, extra ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	var mainID string
	for i, name := range append([]string{main}, extra...) {
		f, err := os.Open(filepath.Join("testdata", "schema", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		_ = f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if i == 0 {
			mainID = id
		}
	}
	sch, err := c.Compile(mainID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestWritersValidate writes the same SBOM in each format and validates
// it against the format's published JSON schema; the output is pinned by
// golden files (refresh with -update).
func TestWritersValidate(t *testing.T) {
	tests := []struct {
		name   string
		write  Writer
		schema *jsonschema.Schema
		golden string
	}{
		{"cyclonedx", CycloneDX, compile(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"), "sbom.cdx.json"},
		{"spdx", SPDX, compile(t, "spdx-2.3.schema.json"), "sbom.spdx.json"},
	}
	s := testSBOM(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf, s, Options{ToolVersion: "v0.0.0-test", Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}); err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.schema.Validate(doc); err != nil {
				t.Errorf("schema: %v", err)
			}
			testutil.Golden(t, filepath.Join("testdata", tt.golden), buf.Bytes())
			// Every package is there with its purl.
			for _, p := range s.Packages {
				if !bytes.Contains(buf.Bytes(), []byte(`"`+p.PURL+`"`)) && !bytes.Contains(buf.Bytes(), mustJSON(t, p.PURL)) {
					t.Errorf("%s missing", p.PURL)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSchemaRejects makes sure the validation can fail: a document
// without its required fields is rejected.
func TestSchemaRejects(t *testing.T) {
	for name, sch := range map[string]*jsonschema.Schema{
		"cyclonedx": compile(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"),
		"spdx":      compile(t, "spdx-2.3.schema.json"),
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"specVersion": 7, "spdxVersion": 7}`))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(doc) == nil {
			t.Errorf("%s: broken document accepted", name)
		}
	}
}
