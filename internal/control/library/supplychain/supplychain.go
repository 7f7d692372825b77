// Package supplychain holds the catalogue entries of image vulnerability
// matching: image-critical-vulnerabilities and image-high-vulnerabilities,
// evaluated by `rampart image --vulns` against the offline OSV database,
// not by manifest scans. The controls set External to "image"; the logic
// lives in internal/vuln, whose ControlCritical and ControlHigh name the
// same IDs.
package supplychain

import (
	_ "embed"

	"github.com/rampart-dev/rampart/internal/control"
)

//go:embed metadata.yaml
var metadata []byte

// IDs of the image vulnerability controls (the same as
// vuln.ControlCritical and vuln.ControlHigh).
const (
	ImageCriticalVulnerabilities = "image-critical-vulnerabilities"
	ImageHighVulnerabilities     = "image-high-vulnerabilities"
)

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, []*control.Control{
		{Metadata: control.Metadata{ID: ImageCriticalVulnerabilities}, External: "image"},
		{Metadata: control.Metadata{ID: ImageHighVulnerabilities}, External: "image"},
	})
}
