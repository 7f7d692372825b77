// Package format writes an sbom.SBOM as CycloneDX 1.6 JSON or SPDX 2.3
// JSON, through the official Go libraries of each standard.
package format

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// Options are what the writers need beyond the SBOM.
type Options struct {
	// ToolVersion is Rampart's version, named as the creating tool.
	ToolVersion string
	// Time is the creation time; zero means now.
	Time time.Time
}

func (o Options) created() time.Time {
	if o.Time.IsZero() {
		return time.Now().UTC()
	}
	return o.Time.UTC()
}

// Writer writes an SBOM in one format.
type Writer func(w io.Writer, s *sbom.SBOM, o Options) error

// Writers are the SBOM formats by name.
var Writers = map[string]Writer{
	"cyclonedx": CycloneDX,
	"spdx":      SPDX,
}

// ref is a stable identifier for package i: the same SBOM gives the same
// identifiers.
func ref(prefix string, i int, p sbom.Package) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s", p.Ecosystem, p.Name, p.Version, p.Path)))
	return fmt.Sprintf("%s%d-%s", prefix, i, hex.EncodeToString(h[:6]))
}

func imageName(s *sbom.SBOM) string {
	if s.Image.Ref != "" {
		return s.Image.Ref
	}
	return "image"
}
