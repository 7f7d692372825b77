package cli

import (
	"os"
	"runtime/debug"
)

// DefaultMemoryLimit is the soft memory limit Rampart gives the Go runtime
// unless GOMEMLIMIT is set. A scan keeps a compact inventory and its
// findings while it decodes large YAML documents that are garbage a moment
// later; without a limit the heap grows to twice what is live. The limit is
// soft: a scan that needs more still gets it, with more frequent garbage
// collection (the runtime caps that at half the CPU).
const DefaultMemoryLimit = 240 << 20

// ApplyMemoryLimit sets DefaultMemoryLimit unless the user set GOMEMLIMIT.
func ApplyMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}
