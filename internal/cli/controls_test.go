package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/controls.md")

// TestControlsDocUpToDate fails when docs/controls.md differs from the
// catalogue; refresh with `go test ./internal/cli -run ControlsDoc -update`
// or `make generate`.
func TestControlsDocUpToDate(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteControlsMarkdown(&buf, cat.reg, cat.fws); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "controls.md")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v (run make generate)", path, err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("%s is out of date: run make generate", path)
	}
}
