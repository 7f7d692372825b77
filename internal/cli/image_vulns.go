package cli

import (
	"context"
	"slices"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/vuln"
)

// vulnFormats are the --format values of `rampart image --vulns`: the
// report formats of scans.
var vulnFormats = []string{"table", "json", "sarif", "junit", "html"}

// vulnOptions are the flags of `rampart image --vulns`.
type vulnOptions struct {
	Enabled       bool
	DB            string
	IgnoreUnfixed bool
	Severity      string
	IgnoreFile    string
	FailOn        string
	MaxAge        time.Duration
	NoColor       bool
}

// runImageVulns analyses each image, matches its packages against the
// offline vulnerability database and writes one report for all images
// through the scan report writers. A stale database gives a warning with
// its age; an image that cannot be read is an input error (exit 2) and
// the others are still reported.
func runImageVulns(ctx context.Context, o *imageOptions, refs []string, streams IO) error {
	v := o.Vulns
	w, ok := writers[o.Format]
	if !ok {
		return usageError("--format %q with --vulns: want one of table, json, sarif, junit, html", o.Format)
	}
	minSev, err := control.ParseSeverity(v.Severity)
	if err != nil {
		return usageError("--severity: %v", err)
	}
	failOn, err := control.ParseSeverity(v.FailOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	mopts := vuln.Options{IgnoreUnfixed: v.IgnoreUnfixed, MinSeverity: minSev}
	if v.IgnoreFile != "" {
		if mopts.Ignores, err = vuln.LoadIgnores(v.IgnoreFile); err != nil {
			return usageError("--ignore-file: %v", err)
		}
	}
	db, err := openVulnDB(ctx, v.DB, v.MaxAge, streams.Err)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var merged *report.Result
	var errs []report.InputError
	for _, ref := range refs {
		s, err := analyzeImage(ctx, ref, *o)
		if err != nil {
			errs = append(errs, report.InputError{File: ref, Message: err.Error()})
			continue
		}
		vulns, err := vuln.MatchContext(ctx, db, s, mopts)
		if err != nil {
			errs = append(errs, report.InputError{File: ref, Message: err.Error()})
			continue
		}
		r := vuln.Report(Version, s, vulns, nil)
		merged = mergeReports(merged, r)
	}
	if merged == nil {
		merged = vuln.Report(Version, &sbom.SBOM{}, nil, nil)
	}
	merged.Errors = append(merged.Errors, errs...)
	merged.Summary.Errors = len(merged.Errors)
	return writeReport(streams, merged, w, reportOptions{Output: o.Output, NoColor: v.NoColor, FailOn: failOn})
}

// mergeReports appends b's findings, objects and errors to a (nil: b) and
// recounts the summary; control tallies are summed and framework scores
// recomputed over both.
func mergeReports(a, b *report.Result) *report.Result {
	if a == nil {
		return b
	}
	base := int32(len(a.Objects))
	a.Objects = append(a.Objects, b.Objects...)
	a.Findings = append(a.Findings, b.Findings...)
	a.Errors = append(a.Errors, b.Errors...)
	for i := range a.Controls {
		for _, c := range b.Controls {
			if c.ID != a.Controls[i].ID {
				continue
			}
			a.Controls[i].Evaluated += c.Evaluated
			a.Controls[i].Failed += c.Failed
			a.Controls[i].Excepted += c.Excepted
			for _, id := range c.Objects {
				a.Controls[i].Objects = append(a.Controls[i].Objects, id+base)
			}
		}
	}
	a.Frameworks = mergeFrameworks(a.Frameworks, b.Frameworks)
	sm := &a.Summary
	sm.Objects, sm.Findings, sm.Errors = len(a.Objects), len(a.Findings), len(a.Errors)
	for k, n := range b.Summary.ByStatus {
		sm.ByStatus[k] += n
	}
	for k, n := range b.Summary.BySeverity {
		sm.BySeverity[k] += n
	}
	return a
}

// mergeFrameworks merges the framework scores of two reports item by item:
// an item fails when it fails in either, passes when it passes in either
// and fails in neither, and is skipped otherwise; the scores are recounted.
func mergeFrameworks(a, b []report.FrameworkScore) []report.FrameworkScore {
	for _, fb := range b {
		i := slices.IndexFunc(a, func(f report.FrameworkScore) bool { return f.ID == fb.ID })
		if i < 0 {
			a = append(a, fb)
			continue
		}
		fa := &a[i]
		for _, ib := range fb.Items {
			j := slices.IndexFunc(fa.Items, func(it report.FrameworkItem) bool { return it.ID == ib.ID })
			if j < 0 {
				fa.Items = append(fa.Items, ib)
				continue
			}
			it := &fa.Items[j]
			it.Failed += ib.Failed
			switch {
			case it.Status == string(control.StatusFail) || ib.Status == string(control.StatusFail):
				it.Status = string(control.StatusFail)
			case it.Status == string(control.StatusPass) || ib.Status == string(control.StatusPass):
				it.Status = string(control.StatusPass)
			}
		}
		fa.Passed, fa.Failed, fa.Controls, fa.Score = 0, 0, 0, 0
		for _, it := range fa.Items {
			switch it.Status {
			case string(control.StatusFail):
				fa.Failed++
			case string(control.StatusPass):
				fa.Passed++
			}
		}
		fa.Controls = fa.Passed + fa.Failed
		fa.Score = report.Percent(fa.Passed, fa.Controls)
	}
	return a
}
