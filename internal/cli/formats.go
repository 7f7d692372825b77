package cli

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/load"
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

// reportOptions say where and how a command writes its report.
type reportOptions struct {
	// Output is the report file; empty means standard output.
	Output string
	// NoColor turns colour off in table output.
	NoColor bool
	// FailOn is the lowest severity of a failing finding that makes the
	// command exit 1.
	FailOn control.Severity
}

// writeReport writes res with w, prints its input errors on stderr and
// returns the command's outcome: an ExitError with ExitUsage when there were
// input errors, ExitFindings when a finding failed at or above o.FailOn, nil
// otherwise. scan, node and probe share it.
func writeReport(streams IO, res *report.Result, w report.Writer, o reportOptions) error {
	bw, finish, err := openOutput(streams, o.Output)
	if err != nil {
		return err
	}
	color := !o.NoColor && o.Output == "" && isTerminal(streams.Out) && os.Getenv("NO_COLOR") == ""
	werr := w.Write(bw, res, report.Options{Color: color, Width: termWidth(streams.Out)})
	if ferr := finish(); werr == nil {
		werr = ferr
	}
	if werr != nil {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("writing report: %v", werr)}
	}
	for _, e := range res.Errors {
		fmt.Fprintln(streams.Err, "rampart: error: "+load.InputError{File: e.File, Line: e.Line, Message: e.Message}.Error())
	}
	if len(res.Errors) > 0 {
		return &ExitError{Code: ExitUsage}
	}
	for _, f := range res.Findings {
		if f.Status != string(control.StatusFail) {
			continue
		}
		if sev, _ := control.ParseSeverity(f.Severity); sev >= o.FailOn {
			return &ExitError{Code: ExitFindings}
		}
	}
	return nil
}

// openOutput returns a buffered writer to the file path (created), or to
// standard output when path is empty; finish flushes it and closes the
// file, returning the first error.
func openOutput(streams IO, path string) (w *bufio.Writer, finish func() error, err error) {
	out := streams.Out
	var file *os.File
	if path != "" {
		if file, err = os.Create(path); err != nil {
			return nil, nil, usageError("--output: %v", err)
		}
		out = file
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	return bw, func() error {
		err := bw.Flush()
		if file != nil {
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}
		return err
	}, nil
}
