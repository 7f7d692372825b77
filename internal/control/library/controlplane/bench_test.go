package controlplane

import (
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
)

// BenchmarkControlsCorpus runs every control of the family on the
// real-world corpus, decoded once beforehand (cross-object controls over an
// inventory built once); compare with controltest's BenchmarkDecodeCorpus.
func BenchmarkControlsCorpus(b *testing.B) {
	controltest.BenchmarkFamily(b, Controls)
}
