package auditlog

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadVulnReports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vulns.json")
	os.WriteFile(path, []byte(`{"schemaVersion":"1","findings":[
 {"control":"image-critical-vulnerabilities","severity":"critical","status":"fail","object":{"kind":"Image","name":"registry.example/shop/api@sha256:aaa"}},
 {"control":"image-high-vulnerabilities","severity":"high","status":"fail","object":{"kind":"Image","name":"registry.example/shop/api@sha256:aaa"}},
 {"control":"image-high-vulnerabilities","severity":"medium","status":"fail","object":{"kind":"Image","name":"registry.example/shop/api@sha256:aaa"}},
 {"control":"image-high-vulnerabilities","severity":"high","status":"excepted","object":{"kind":"Image","name":"registry.example/shop/api@sha256:aaa"}},
 {"control":"image-high-vulnerabilities","severity":"high","status":"fail","object":{"kind":"Image","name":"nginx:1.27"}}]}`), 0o600)
	vulns, err := LoadVulnReports(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image string
		want  map[string]int
	}{
		{"registry.example/shop/api@sha256:aaa", map[string]int{"critical": 1, "high": 1, "medium": 1}},
		{"other.example/mirror/api@sha256:aaa", map[string]int{"critical": 1, "high": 1, "medium": 1}},
		{"nginx:1.27", map[string]int{"high": 1}},
		{"nginx:1.28", nil},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			got := vulns(tt.image)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := LoadVulnReports(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing report accepted")
	}
}
