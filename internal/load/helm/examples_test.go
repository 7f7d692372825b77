package helm_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
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
		Message string `json:"message"`
	} `json:"findings"`
	Errors []struct {
		File    string `json:"file"`
		Message string `json:"message"`
	} `json:"errors"`
}

// TestCLIHelmExample scans examples/helm through the real CLI path and
// checks namespaces, release names and template attribution.
func TestCLIHelmExample(t *testing.T) {
	example := filepath.Join("..", "..", "..", "examples", "helm")
	templates := filepath.Join(example, "demo", "templates") + string(filepath.Separator)
	tests := []struct {
		name        string
		args        []string
		wantNS      string
		wantObject  string
		wantFail    []string
		wantNotFail []string
	}{
		{
			name:        "defaults",
			args:        nil,
			wantNS:      "",
			wantObject:  "rampart-scan-demo",
			wantFail:    []string{"privileged-container", "host-path-volume", "image-tag-latest", "hardcoded-secret-in-env", "service-exposed-externally"},
			wantNotFail: []string{"default-namespace"},
		},
		{
			name:        "namespace, release name and hardened values",
			args:        []string{"--namespace", "web", "--release-name", "shop", "-f", filepath.Join(example, "demo", "values-hardened.yaml")},
			wantNS:      "web",
			wantObject:  "shop-demo",
			wantFail:    []string{"hardcoded-secret-in-env"},
			wantNotFail: []string{"privileged-container", "host-path-volume", "image-tag-latest", "service-exposed-externally"},
		},
		{
			name:        "--set",
			args:        []string{"--set", "privileged=false,hostPath.enabled=false"},
			wantNS:      "",
			wantObject:  "rampart-scan-demo",
			wantFail:    []string{"image-tag-latest"},
			wantNotFail: []string{"privileged-container", "host-path-volume"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"scan", "-o", "json"}, tt.args...)
			code := cli.Run(append(args, example), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
			if code != 1 {
				t.Fatalf("exit code %d, want 1 (failing findings); stderr: %s", code, errOut.String())
			}
			var r jsonReport
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("report: %v", err)
			}
			if len(r.Errors) > 0 {
				t.Fatalf("input errors: %+v", r.Errors)
			}
			failed := map[string]bool{}
			for _, f := range r.Findings {
				if !strings.HasPrefix(f.Source.File, templates) {
					t.Errorf("%s: file %q is not a template of the chart", f.Control, f.Source.File)
				}
				if f.Source.Origin != "helm:"+filepath.Join(example, "demo") {
					t.Errorf("%s: origin %q", f.Control, f.Source.Origin)
				}
				if f.Source.Line < 1 {
					t.Errorf("%s: no line", f.Control)
				}
				if f.Object.Namespace != tt.wantNS || f.Object.Name != tt.wantObject {
					t.Errorf("%s: object %s/%s, want %s/%s", f.Control, f.Object.Namespace, f.Object.Name, tt.wantNS, tt.wantObject)
				}
				if strings.Contains(f.Message, "hunter2-not-real") {
					t.Errorf("%s: message echoes the secret value: %q", f.Control, f.Message)
				}
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
		})
	}
}
