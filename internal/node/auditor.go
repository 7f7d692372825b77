package node

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// Targets group checks the way kube-bench does.
const (
	TargetMaster       = "master"
	TargetEtcd         = "etcd"
	TargetControlPlane = "controlplane"
	TargetNode         = "node"
)

// Framework is the framework node checks implement.
var Framework = audit.Framework{ID: "cis-node", Name: "CIS Kubernetes Benchmark (node and control plane)", Version: "1.10"}

// Check is one CIS check.
type Check struct {
	audit.Check
	// Target is master, etcd, controlplane or node.
	Target string
	// Manual is true when CIS marks the check Manual. Some of them are
	// still evaluated (the result says so); the rest report MANUAL.
	Manual bool
	run    func(a *auditor, c *Check) []audit.Result
}

// auditor holds what the checks of one audit share.
type auditor struct {
	host  Host
	acct  accounts
	procs map[string][]*Instance
}

func procRef(in *Instance) (k8s.Ref, k8s.Source) {
	return k8s.Ref{Kind: "Process", Name: in.Name()}, k8s.Source{File: in.Location()}
}

func fileRef(p string) (k8s.Ref, k8s.Source) {
	return k8s.Ref{Kind: "File", Name: p}, k8s.Source{File: p}
}

func result(c *Check, ref k8s.Ref, src k8s.Source, st control.Status, msg string, ev *report.Evidence) audit.Result {
	return audit.Result{Check: &c.Check, Target: ref, Source: src, Status: st, Message: msg, Evidence: ev}
}

// absentComponent is the not-applicable result of a check of a component
// that does not run here.
func absentComponent(c *Check, comp string) audit.Result {
	return result(c, k8s.Ref{Kind: "Component", Name: comp}, k8s.Source{}, control.StatusNotApplicable,
		comp+" is not running on this node", &report.Evidence{Origin: OriginAbsent, Location: "/proc"})
}

// outcome is what a per-instance check decides.
type outcome struct {
	status control.Status
	msg    string
	ev     *report.Evidence
}

// each runs f on every instance of comp; not-applicable when there is none.
func each(comp string, f func(a *auditor, in *Instance) outcome) func(*auditor, *Check) []audit.Result {
	return func(a *auditor, c *Check) []audit.Result {
		ins := a.procs[comp]
		if len(ins) == 0 {
			return []audit.Result{absentComponent(c, comp)}
		}
		out := make([]audit.Result, 0, len(ins))
		for _, in := range ins {
			o := f(a, in)
			ref, src := procRef(in)
			out = append(out, result(c, ref, src, o.status, o.msg, o.ev))
		}
		return out
	}
}

// describe says where a value came from, for messages.
func describe(name string, v Value) string {
	switch v.Origin {
	case OriginAbsent:
		return name + " is not set"
	case OriginDefault:
		return fmt.Sprintf("%s is %q (default)", name, v.Value)
	case OriginFile:
		return fmt.Sprintf("%s is %q (config file)", name, v.Value)
	}
	return fmt.Sprintf("%s is %q", name, v.Value)
}

// flagIs checks one resolved setting with ok; want says what passes.
func flagIs(comp, name, want string, ok func(string) bool) func(*auditor, *Check) []audit.Result {
	return each(comp, func(_ *auditor, in *Instance) outcome {
		return judge(in.Get(name), "--"+name, want, ok)
	})
}

func judge(v Value, label, want string, ok func(string) bool) outcome {
	if v.Err != "" {
		return outcome{control.StatusWarn, label + " could not be resolved: " + v.Err, &report.Evidence{Origin: OriginAbsent}}
	}
	if ok(v.Value) {
		return outcome{control.StatusPass, describe(label, v), v.Evidence()}
	}
	return outcome{control.StatusFail, describe(label, v) + "; want " + want, v.Evidence()}
}

func equals(want string) func(string) bool {
	return func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), want) }
}

func notEquals(bad string) func(string) bool {
	return func(v string) bool { return !strings.EqualFold(strings.TrimSpace(v), bad) }
}

// allSet passes when every flag is set.
func allSet(comp string, names ...string) func(*auditor, *Check) []audit.Result {
	return each(comp, func(_ *auditor, in *Instance) outcome {
		var vals, missing []string
		ev := &report.Evidence{Origin: OriginFlag, Location: in.Location()}
		for _, n := range names {
			v := in.Get(n)
			if v.Err != "" {
				return outcome{control.StatusWarn, "--" + n + " could not be resolved: " + v.Err, &report.Evidence{Origin: OriginAbsent}}
			}
			if !v.Set() || v.Value == "" {
				missing = append(missing, "--"+n)
				continue
			}
			if v.Origin == OriginFile {
				ev = v.Evidence()
			}
			vals = append(vals, "--"+n+"="+v.Value)
		}
		if len(missing) > 0 {
			return outcome{control.StatusFail, strings.Join(missing, " and ") + " not set", &report.Evidence{Value: strings.Join(vals, " "), Origin: OriginAbsent, Location: in.Location()}}
		}
		ev.Value = strings.Join(vals, " ")
		return outcome{control.StatusPass, strings.Join(names, ", ") + " set", ev}
	})
}

// manual reports MANUAL for each instance with the value a reviewer
// needs.
func manual(comp, name, what string) func(*auditor, *Check) []audit.Result {
	return each(comp, func(_ *auditor, in *Instance) outcome {
		if name == "" {
			return outcome{control.StatusManual, what, &report.Evidence{Origin: OriginAbsent, Location: in.Location()}}
		}
		v := in.Get(name)
		if v.Err != "" {
			return outcome{control.StatusWarn, "--" + name + " could not be resolved: " + v.Err, &report.Evidence{Origin: OriginAbsent}}
		}
		return outcome{control.StatusManual, describe("--"+name, v) + "; " + what, v.Evidence()}
	})
}

// loopback reports whether an address (host or host:port) is a loopback one.
func loopback(v string) bool {
	host := v
	if i := strings.LastIndex(v, ":"); i >= 0 && !strings.HasSuffix(v, "]") && strings.Count(v, ":") == 1 {
		host = v[:i]
	} else if strings.HasPrefix(v, "[") {
		host = strings.Trim(v[:strings.LastIndex(v, "]")+1], "[]")
	}
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// --- files ---

// stat returns a file's info or the warning result explaining why it
// could not be read; missing reports the file does not exist.
func (a *auditor) stat(p string) (FileInfo, string, bool) {
	fi, err := a.host.Stat(p)
	if err != nil {
		return FileInfo{}, reason(err), isNotExist(err)
	}
	return fi, "", false
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// modeResult judges a file's permissions against max (no bit beyond it).
func modeResult(c *Check, p string, fi FileInfo, max fs.FileMode) audit.Result {
	ref, src := fileRef(p)
	perm := fi.Mode.Perm()
	ev := &report.Evidence{Value: fmt.Sprintf("%04o", uint32(perm)), Origin: OriginStat, Location: p}
	if perm&^max == 0 {
		return result(c, ref, src, control.StatusPass, fmt.Sprintf("permissions %04o", uint32(perm)), ev)
	}
	return result(c, ref, src, control.StatusFail, fmt.Sprintf("permissions %04o, want %04o or more restrictive", uint32(perm), uint32(max)), ev)
}

// ownerResult judges a file's owner against user:group.
func (a *auditor) ownerResult(c *Check, p string, fi FileInfo, user, group string) audit.Result {
	ref, src := fileRef(p)
	ev := &report.Evidence{Value: fmt.Sprintf("%d:%d", fi.UID, fi.GID), Origin: OriginStat, Location: p}
	uid, uok := a.acct.users[user]
	gid, gok := a.acct.groups[group]
	if !uok || !gok {
		return result(c, ref, src, control.StatusFail, fmt.Sprintf("owner %d:%d; the node has no %s:%s account", fi.UID, fi.GID, user, group), ev)
	}
	if fi.UID == uid && fi.GID == gid {
		return result(c, ref, src, control.StatusPass, "owned by "+user+":"+group, ev)
	}
	return result(c, ref, src, control.StatusFail, fmt.Sprintf("owner %d:%d, want %s:%s (%d:%d)", fi.UID, fi.GID, user, group, uid, gid), ev)
}

// fileSpec names the files a permission check covers.
type fileSpec struct {
	// comp is the component the files belong to ("" for none): with no
	// such component running and no file, the check is not applicable.
	comp string
	// paths returns the candidate paths.
	paths func(a *auditor) []string
	// optional files that do not exist are not applicable, even with comp
	// running (CIS "if the file exists").
	optional bool
}

// fileCheck runs judge on every file of spec.
func fileCheck(spec fileSpec, judge func(a *auditor, c *Check, p string, fi FileInfo) audit.Result) func(*auditor, *Check) []audit.Result {
	return func(a *auditor, c *Check) []audit.Result {
		running := spec.comp == "" || len(a.procs[spec.comp]) > 0
		paths := spec.paths(a)
		var out []audit.Result
		for _, p := range paths {
			fi, why, missing := a.stat(p)
			ref, src := fileRef(p)
			switch {
			case missing && (!running || spec.optional):
				out = append(out, result(c, ref, src, control.StatusNotApplicable, p+" does not exist", &report.Evidence{Origin: OriginAbsent, Location: p}))
			case why != "":
				out = append(out, result(c, ref, src, control.StatusWarn, p+": "+why, &report.Evidence{Origin: OriginAbsent, Location: p}))
			default:
				out = append(out, judge(a, c, p, fi))
			}
		}
		if len(out) == 0 {
			if !running {
				return []audit.Result{absentComponent(c, spec.comp)}
			}
			ref := k8s.Ref{Kind: "Component", Name: cmpOr(spec.comp, "node")}
			return []audit.Result{result(c, ref, k8s.Source{}, control.StatusNotApplicable, "no such file on this node", &report.Evidence{Origin: OriginAbsent})}
		}
		return out
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func maxMode(m fs.FileMode) func(*auditor, *Check, string, FileInfo) audit.Result {
	return func(_ *auditor, c *Check, p string, fi FileInfo) audit.Result { return modeResult(c, p, fi, m) }
}

func ownedBy(user, group string) func(*auditor, *Check, string, FileInfo) audit.Result {
	return func(a *auditor, c *Check, p string, fi FileInfo) audit.Result {
		return a.ownerResult(c, p, fi, user, group)
	}
}

// fixed returns constant paths.
func fixed(paths ...string) func(*auditor) []string {
	return func(*auditor) []string { return paths }
}

// manifest returns the static pod manifest of a component, in the
// kubelet's staticPodPath when it has one.
func manifest(name string) func(*auditor) []string {
	return func(a *auditor) []string {
		dirs := []string{}
		for _, in := range a.procs[Kubelet] {
			if v := in.Get("pod-manifest-path"); v.Set() && v.Value != "" && !slices.Contains(dirs, v.Value) {
				dirs = append(dirs, v.Value)
			}
		}
		if len(dirs) == 0 {
			dirs = append(dirs, "/etc/kubernetes/manifests")
		}
		out := make([]string, len(dirs))
		for i, d := range dirs {
			out[i] = path.Join(d, name)
		}
		return out
	}
}

// flagPaths returns the values of a setting over a component's instances,
// or def when no instance sets it.
func flagPaths(comp, name string, def ...string) func(*auditor) []string {
	return func(a *auditor) []string {
		var out []string
		for _, in := range a.procs[comp] {
			if v := in.Get(name); v.Set() && v.Value != "" && !slices.Contains(out, v.Value) {
				out = append(out, v.Value)
			}
		}
		if len(out) == 0 {
			return def
		}
		return out
	}
}

// treeCheck judges every file under dir whose name matches (all when
// match is nil) and reports one result for the directory, naming up to
// five offenders.
func treeCheck(dir string, match func(string) bool, judge func(a *auditor, p string, fi FileInfo) (bool, string)) func(*auditor, *Check) []audit.Result {
	return func(a *auditor, c *Check) []audit.Result {
		ref, src := fileRef(dir)
		if _, why, missing := a.stat(dir); missing {
			return []audit.Result{result(c, ref, src, control.StatusNotApplicable, dir+" does not exist", &report.Evidence{Origin: OriginAbsent, Location: dir})}
		} else if why != "" {
			return []audit.Result{result(c, ref, src, control.StatusWarn, dir+": "+why, &report.Evidence{Origin: OriginAbsent, Location: dir})}
		}
		var bad, warn []string
		n := 0
		var walk func(d string, depth int)
		walk = func(d string, depth int) {
			if match == nil {
				n++
				fi, why, _ := a.stat(d)
				if why != "" {
					warn = append(warn, d+": "+why)
				} else if ok, what := judge(a, d, fi); !ok {
					bad = append(bad, d+" "+what)
				}
			}
			ents, err := a.host.ReadDir(d)
			if err != nil {
				warn = append(warn, d+": "+reason(err))
				return
			}
			for _, e := range ents {
				p := path.Join(d, e.Name())
				if e.IsDir() {
					if depth < 8 {
						walk(p, depth+1)
					}
					continue
				}
				if match != nil && !match(e.Name()) {
					continue
				}
				n++
				fi, why, _ := a.stat(p)
				if why != "" {
					warn = append(warn, p+": "+why)
				} else if ok, what := judge(a, p, fi); !ok {
					bad = append(bad, p+" "+what)
				}
			}
		}
		walk(dir, 0)
		ev := &report.Evidence{Value: fmt.Sprintf("%d files, %d failing", n, len(bad)), Origin: OriginStat, Location: dir}
		switch {
		case len(bad) > 0:
			return []audit.Result{result(c, ref, src, control.StatusFail, firstFew(bad), ev)}
		case len(warn) > 0:
			return []audit.Result{result(c, ref, src, control.StatusWarn, firstFew(warn), ev)}
		case n == 0:
			return []audit.Result{result(c, ref, src, control.StatusNotApplicable, "no matching files under "+dir, ev)}
		}
		return []audit.Result{result(c, ref, src, control.StatusPass, fmt.Sprintf("all %d files conform", n), ev)}
	}
}

func firstFew(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], "; ") + fmt.Sprintf("; and %d more", len(s)-5)
	}
	return strings.Join(s, "; ")
}
