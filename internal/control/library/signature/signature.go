// Package signature holds the catalogue entry of image signature
// verification: image-unsigned, evaluated by `rampart image verify` (and the
// admission webhook's images.requireSignature) against a registry, not by
// scans. The control sets External to "image"; the logic lives in
// internal/sign.
package signature

import (
	_ "embed"

	"github.com/rampart-dev/rampart/internal/control"
)

//go:embed metadata.yaml
var metadata []byte

// ImageUnsigned is the ID of the control reported for every verified image.
const ImageUnsigned = "image-unsigned"

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, []*control.Control{
		{Metadata: control.Metadata{ID: ImageUnsigned}, External: "image"},
	})
}
