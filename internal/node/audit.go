package node

import (
	"fmt"
	"path"
	"strings"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/report"
)

// Filter selects checks. Empty fields select everything.
type Filter struct {
	// Checks are CIS IDs or globs ("1.2.1", "4.2.*"); "cis-" prefixes are
	// accepted.
	Checks []string
	// Skip are CIS IDs or globs to leave out.
	Skip []string
	// Sections are CIS section prefixes ("1.2", "4").
	Sections []string
	// Targets are master, etcd, controlplane or node.
	Targets []string
}

// Validate reports unknown targets.
func (f Filter) Validate() error {
	for _, t := range f.Targets {
		switch t {
		case TargetMaster, TargetEtcd, TargetControlPlane, TargetNode:
		default:
			return fmt.Errorf("unknown target %q (want master, etcd, controlplane or node)", t)
		}
	}
	return nil
}

func matchID(patterns []string, id string) bool {
	for _, p := range patterns {
		p = strings.TrimPrefix(strings.TrimSpace(p), "cis-")
		if ok, err := path.Match(p, id); err == nil && ok {
			return true
		}
	}
	return false
}

// Selects reports whether the filter keeps a check.
func (f Filter) Selects(c *Check) bool {
	id := c.Item
	if len(f.Checks) > 0 && !matchID(f.Checks, id) {
		return false
	}
	if matchID(f.Skip, id) {
		return false
	}
	if len(f.Targets) > 0 && !contains(f.Targets, c.Target) {
		return false
	}
	if len(f.Sections) > 0 {
		ok := false
		for _, s := range f.Sections {
			s = strings.TrimSuffix(strings.TrimPrefix(s, "cis-"), ".")
			if id == s || strings.HasPrefix(id, s+".") {
				ok = true
			}
		}
		return ok
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Select returns the checks the filter keeps.
func Select(f Filter) []*Check {
	var out []*Check
	for _, c := range Checks() {
		if f.Selects(c) {
			out = append(out, c)
		}
	}
	return out
}

// Result is the outcome of an audit, before it becomes a report.
type Result struct {
	// Checks are the checks that ran.
	Checks []*audit.Check
	// Results are their results.
	Results []audit.Result
	// Errors are what stopped the audit from seeing the node at all
	// (an unreadable /proc).
	Errors []report.InputError
	// Processes are the component processes found.
	Processes []*Process
}

// Run audits the host with the checks f selects.
func Run(h Host, f Filter) *Result {
	out := &Result{}
	procs, err := Discover(h)
	if err != nil {
		out.Errors = append(out.Errors, report.InputError{File: "/proc", Message: "listing processes: " + reason(err)})
	}
	out.Processes = procs
	a := &auditor{host: h, acct: loadAccounts(h), procs: map[string][]*Instance{}}
	for _, p := range procs {
		a.procs[p.Component] = append(a.procs[p.Component], newInstance(h, p))
	}
	for _, c := range Select(f) {
		out.Checks = append(out.Checks, &c.Check)
		out.Results = append(out.Results, c.run(a, c)...)
	}
	return out
}

// Report builds the report of an audit result.
func (r *Result) Report(version string) *report.Result {
	return audit.Build(version, Framework, r.Checks, r.Results, r.Errors)
}
