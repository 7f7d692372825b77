package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/image/imagetest"
	"github.com/rampart-dev/rampart/internal/sbom"
)

func detectTestdata(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sbom", "detect", "testdata", p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImageCommand(t *testing.T) {
	img := imagetest.Image(t, v1.Platform{OS: "linux", Architecture: "amd64"},
		imagetest.Layer(t,
			imagetest.File{Name: "usr/lib/os-release", Body: detectTestdata(t, "osrelease/debian-12")},
			imagetest.File{Name: "var/lib/dpkg/status", Body: detectTestdata(t, "dpkg/status")},
			imagetest.File{Name: "../../escape", Body: []byte("x")},
		),
		imagetest.Layer(t, imagetest.File{Name: "srv/app/package-lock.json", Body: detectTestdata(t, "npm/package-lock-v3.json")}),
	)
	tarPath := imagetest.SaveTarball(t, img)

	code, out, errOut := runCLI("image", "-o", "json", tarPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var s sbom.SBOM
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Distro == nil || s.Distro.ID != "debian" || s.Image.Platform != "linux/amd64" || len(s.Packages) < 300 {
		t.Errorf("sbom: distro %+v platform %s, %d packages", s.Distro, s.Image.Platform, len(s.Packages))
	}
	if !strings.Contains(errOut, "warning: "+tarPath+": sha256:") || !strings.Contains(errOut, "path traversal") {
		t.Errorf("stderr %q, want the skipped traversal entry", errOut)
	}

	tests := []struct {
		args     []string
		code     int
		wantOut  string
		wantErr  string
		fileWant string
	}{
		{args: []string{"image", tarPath}, wantOut: "Distro:   Debian GNU/Linux 12 (bookworm)"},
		{args: []string{"image", "-o", "table", tarPath}, wantOut: "Debian     libssl3"},
		{args: []string{"image", "-o", "cyclonedx", tarPath}, wantOut: `"specVersion": "1.6"`},
		{args: []string{"image", "-o", "spdx", tarPath}, wantOut: `"spdxVersion": "SPDX-2.3"`},
		{args: []string{"image", "-o", "spdx", "--output", filepath.Join(t.TempDir(), "x.json"), tarPath}, fileWant: `"SPDX-2.3"`},
		{args: []string{"image", "-o", "xml", tarPath}, code: 2, wantErr: `--format "xml"`},
		{args: []string{"image", tarPath, filepath.Join(t.TempDir(), "missing-dir") + "/"}, code: 2, wantOut: "Packages:", wantErr: "rampart: error:"},
		{args: []string{"image"}, code: 2, wantErr: "requires at least 1 arg"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout %.300q (want %q)\nstderr %q (want %q)", code, tt.code, out, tt.wantOut, errOut, tt.wantErr)
			}
			if tt.fileWant != "" {
				b, err := os.ReadFile(tt.args[4])
				if err != nil || !strings.Contains(string(b), tt.fileWant) {
					t.Errorf("--output file: %v %.200q", err, b)
				}
			}
		})
	}
}
