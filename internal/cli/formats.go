package cli

import (
	"sort"
	"sync"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/report/html"
	jsonw "github.com/rampart-dev/rampart/internal/report/json"
	"github.com/rampart-dev/rampart/internal/report/junit"
	"github.com/rampart-dev/rampart/internal/report/sarif"
	"github.com/rampart-dev/rampart/internal/report/table"
)

// writers maps --format names to writers.
var writers = map[string]report.Writer{
	"table": table.Writer{},
	"json":  jsonw.Writer{},
	"sarif": sarif.Writer{Lookup: controlMetadata},
	"junit": junit.Writer{},
	"html":  html.Writer{},
}

// builtinRegistry loads the built-in catalogue once, for writers that
// describe controls beyond what a Result carries (SARIF rules).
var builtinRegistry = sync.OnceValue(func() *control.Registry {
	reg, err := library.NewRegistry()
	if err != nil {
		return nil
	}
	return reg
})

// controlMetadata returns the metadata of a built-in control.
func controlMetadata(id string) (control.Metadata, bool) {
	reg := builtinRegistry()
	if reg == nil {
		return control.Metadata{}, false
	}
	c, ok := reg.Get(id)
	if !ok {
		return control.Metadata{}, false
	}
	return c.Metadata, true
}

func formatNames() []string {
	out := make([]string, 0, len(writers))
	for k := range writers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
