package detect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// MITREFramework is the framework of detection reports: each rule is a
// check of the first MITRE ATT&CK technique it lists.
var MITREFramework = audit.Framework{ID: "mitre-attack", Name: "MITRE ATT&CK (detections)", Version: "v17"}

// Report turns alerts into a report.Result for the scan report formats
// (rampart audit file --replay): one failing finding per emitted alert
// (its message the alert's output, with the repeat count and context), one
// check per rule, errs as input errors.
func Report(version string, rules []*Rule, alerts []Alert, errs []report.InputError) *report.Result {
	checks := make([]*audit.Check, 0, len(rules))
	byID := map[string]*audit.Check{}
	for _, r := range rules {
		c := &audit.Check{ID: r.ID, Title: r.Title, Severity: r.Severity, Remediation: r.Remediation}
		if c.Remediation == "" {
			c.Remediation = "Investigate who made the request and why; revoke the access if it was not expected."
		}
		if len(r.MITRE) > 0 {
			c.Item = r.MITRE[0]
			c.ItemName = r.MITRE[0] + " " + r.Title
		}
		checks = append(checks, c)
		byID[r.ID] = c
	}
	results := make([]audit.Result, 0, len(alerts))
	for i := range alerts {
		a := &alerts[i]
		c, ok := byID[a.Rule]
		if !ok {
			sev, _ := control.ParseSeverity(a.Severity)
			c = &audit.Check{ID: a.Rule, Title: a.Title, Severity: sev}
			byID[a.Rule] = c
			checks = append(checks, c)
		}
		var src k8s.Source
		if a.Location != nil {
			src = *a.Location
		}
		msg := a.Output
		if a.Count > 1 {
			msg += fmt.Sprintf(" (%d times from %s to %s)", a.Count, a.FirstSeen.UTC().Format("2006-01-02T15:04:05Z"), a.LastSeen.UTC().Format("2006-01-02T15:04:05Z"))
		}
		results = append(results, audit.Result{
			Check: c, Target: a.Object, Source: src, Status: control.StatusFail, Message: msg,
			Evidence: &report.Evidence{Value: contextSummary(&a.Context), Origin: a.Source + "-event", Location: a.Event["auditID"]},
		})
	}
	return audit.Build(version, MITREFramework, checks, results, errs)
}

// contextSummary renders an alert's context on one line.
func contextSummary(c *Context) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("namespace", c.Namespace)
	add("pod", c.Pod)
	add("container", c.Container)
	if c.WorkloadKind != "" {
		add("workload", c.WorkloadKind+"/"+c.WorkloadName)
	}
	add("node", c.Node)
	add("image", c.Image)
	add("digest", c.ImageDigest)
	add("serviceAccount", c.ServiceAccount)
	add("risks", strings.Join(c.ServiceAccountRisks, "; "))
	add("exposure", strings.Join(c.Exposure, ", "))
	if len(c.Vulnerabilities) > 0 {
		keys := make([]string, 0, len(c.Vulnerabilities))
		for k := range c.Vulnerabilities {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var v []string
		for _, k := range keys {
			v = append(v, fmt.Sprintf("%s:%d", k, c.Vulnerabilities[k]))
		}
		add("vulnerabilities", strings.Join(v, ","))
	}
	if c.Host {
		add("host", "true")
	}
	return strings.Join(parts, " ")
}
