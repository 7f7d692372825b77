package vuln

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/sbom"
)

// Control IDs of image vulnerability findings.
const (
	ControlCritical = "image-critical-vulnerabilities"
	ControlHigh     = "image-high-vulnerabilities"
)

// Checks are the audit checks behind vulnerability findings, in report
// order. Vulnerabilities below high (medium, low, unrated) are reported
// under ControlHigh with their own severity on the finding; --severity
// (Options.MinSeverity) drops them.
var Checks = []*audit.Check{
	{ID: ControlCritical, Title: "Image has critical vulnerabilities", Severity: control.SeverityCritical,
		Remediation: "Update the package to the fixed version (rebuild the image on a patched base), or record an ignore rule with a reason and expiry."},
	{ID: ControlHigh, Title: "Image has high-severity vulnerabilities", Severity: control.SeverityHigh,
		Remediation: "Update the package to the fixed version (rebuild the image on a patched base), or record an ignore rule with a reason and expiry."},
}

// ControlFor returns the control a vulnerability of severity s is reported
// under: critical, or high for every lower severity (which then carries its
// own severity on the finding).
func ControlFor(s control.Severity) *audit.Check {
	if s >= control.SeverityCritical {
		return Checks[0]
	}
	return Checks[1]
}

// Results turns the vulnerabilities of one image into audit results: one
// failing result per vulnerability and package (excepted when an unexpired
// ignore rule matches), and a passing result per control with none.
func Results(img sbom.Image, vulns []Vulnerability) []audit.Result {
	target := k8s.Ref{Kind: "Image", Name: cmp.Or(img.Ref, img.Digest)}
	var out []audit.Result
	count := map[string]int{}
	for _, v := range vulns {
		c := ControlFor(v.Severity)
		count[c.ID]++
		status := control.StatusFail
		if v.Ignore != nil && !v.IgnoreExpired {
			status = control.StatusExcepted
		}
		fixed := "no fix available"
		if v.Fixed != "" {
			fixed = "fixed in " + v.Fixed
		}
		ids := v.ID
		if len(v.Aliases) > 0 {
			ids += " (" + strings.Join(v.Aliases, ", ") + ")"
		}
		msg := fmt.Sprintf("%s in %s %s: %s", ids, v.Package.Name, v.Package.Version, v.Summary)
		if v.Score > 0 {
			msg += fmt.Sprintf(" [CVSS %.1f]", v.Score)
		}
		if v.Ignore != nil {
			state := "ignored"
			if v.IgnoreExpired {
				state = "ignore rule expired " + v.Ignore.Expires
			}
			msg += fmt.Sprintf(" (%s: %s)", state, v.Ignore.Reason)
		}
		loc := v.Package.Path
		if v.Package.Layer != "" {
			loc += " (layer " + v.Package.Layer + ")"
		}
		out = append(out, audit.Result{
			Check:    c,
			Target:   target,
			Source:   k8s.Source{File: cmp.Or(v.Package.Path, img.Ref)},
			Status:   status,
			Severity: v.Severity,
			Message:  msg,
			Evidence: &report.Evidence{Value: fmt.Sprintf("%s@%s, %s", v.Package.Name, v.Installed, fixed), Origin: "file", Location: loc},
		})
	}
	for _, c := range Checks {
		if count[c.ID] == 0 {
			out = append(out, audit.Result{Check: c, Target: target, Source: k8s.Source{File: img.Ref}, Status: control.StatusPass,
				Message: "no matching vulnerability in the database", Evidence: &report.Evidence{Origin: "absent"}})
		}
	}
	return out
}

// Report builds the report of one image's vulnerabilities, with errs
// (such as a stale database warning) as input errors.
func Report(toolVersion string, s *sbom.SBOM, vulns []Vulnerability, errs []report.InputError) *report.Result {
	r := audit.Build(toolVersion, audit.Framework{ID: "image-vulnerabilities", Name: "Image vulnerabilities (OSV)", Version: "1"}, Checks, Results(s.Image, vulns), errs)
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Status != string(control.StatusExcepted) && !strings.Contains(f.Message, "ignore rule expired") {
			continue
		}
		for _, v := range vulns {
			if v.Ignore != nil && strings.HasPrefix(f.Message, v.ID) && f.Evidence != nil && strings.HasPrefix(f.Evidence.Value, v.Package.Name+"@") {
				f.Exception = &report.Exception{Source: "config", Reason: v.Ignore.Reason, Expires: v.Ignore.Expires, Expired: v.IgnoreExpired}
				break
			}
		}
	}
	return r
}
