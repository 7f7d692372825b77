package cli

import (
	"sort"

	"github.com/rampart-dev/rampart/internal/report"
	jsonw "github.com/rampart-dev/rampart/internal/report/json"
)

// writers maps --format names to writers.
var writers = map[string]report.Writer{
	"json": jsonw.Writer{},
}

func formatNames() []string {
	out := make([]string, 0, len(writers))
	for k := range writers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
