// Package reporttest builds report Results for the writers' tests: real
// scans by the engine over the YAML files in its testdata/, with test
// controls that exercise every severity and status (so that golden files do
// not change when the built-in catalogue does), real scans with the whole
// built-in catalogue, and hand-built edge cases.
package reporttest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/report"
)

// Case is one named Result for table-driven writer tests.
type Case struct {
	// Name names the case and its golden file.
	Name string
	// Result is the scan result to render.
	Result *report.Result
}

// Dir returns the directory of the scan fixtures, relative to the calling
// test's package directory (every caller lives in internal/report/<pkg>).
func Dir() string { return filepath.Join("..", "reporttest", "testdata", "scan") }

// Cases returns the standard cases: a real scan of every fixture, a scan
// with input errors only, an empty scan and a hand-built edge case.
func Cases(t testing.TB) []Case {
	t.Helper()
	d := Dir()
	return []Case{
		{Name: "scan", Result: Scan(t, d)},
		{Name: "errors-only", Result: Scan(t, filepath.Join(d, "broken.yaml"), filepath.Join(d, "missing.yaml"))},
		{Name: "empty", Result: Scan(t)},
		{Name: "clean", Result: Scan(t, filepath.Join(d, "clean.yaml"))},
		{Name: "handmade", Result: Handmade()},
		{Name: "audit", Result: Audit()},
	}
}

// Audit returns the report of a small node audit built by audit.Build: a
// failure decided by a default, a pass decided by a config file, a manual
// check, a component that is absent and an unreadable file, so that every
// writer shows audit statuses and evidence.
func Audit() *report.Result {
	anon := &audit.Check{ID: "cis-1.2.1", Title: "Ensure that the --anonymous-auth argument is set to false", Severity: control.SeverityHigh,
		Remediation: "Set `--anonymous-auth=false` in the API server's static pod manifest.", Item: "1.2.1"}
	kubeletAnon := &audit.Check{ID: "cis-4.2.1", Title: "Ensure that the --anonymous-auth argument is set to false (kubelet)", Severity: control.SeverityHigh,
		Remediation: "Set `authentication.anonymous.enabled: false` in the kubelet config file.", Item: "4.2.1"}
	encryption := &audit.Check{ID: "cis-1.2.29", Title: "Ensure that encryption providers are appropriately configured", Severity: control.SeverityMedium,
		Remediation: "Use aescbc, kms or secretbox in the encryption provider config.", Item: "1.2.29"}
	etcd := &audit.Check{ID: "cis-2.1", Title: "Ensure that the --cert-file and --key-file arguments are set as appropriate", Severity: control.SeverityHigh,
		Remediation: "Set --cert-file and --key-file on etcd.", Item: "2.1"}
	perms := &audit.Check{ID: "cis-4.1.9", Title: "If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more restrictive", Severity: control.SeverityMedium,
		Remediation: "chmod 600 /var/lib/kubelet/config.yaml", Item: "4.1.9"}
	api := k8s.Ref{Kind: "Process", Name: "kube-apiserver (pid 4242)"}
	kubelet := k8s.Ref{Kind: "Process", Name: "kubelet (pid 77)"}
	cmdline := k8s.Source{File: "/proc/4242/cmdline"}
	results := []audit.Result{
		{Check: anon, Target: api, Source: cmdline, Status: control.StatusFail,
			Message:  "anonymous requests are served: --anonymous-auth is not set and defaults to true",
			Evidence: &report.Evidence{Value: "true", Origin: "default", Location: "/proc/4242/cmdline"}},
		{Check: kubeletAnon, Target: kubelet, Source: k8s.Source{File: "/var/lib/kubelet/config.yaml"}, Status: control.StatusPass,
			Message:  "authentication.anonymous.enabled is false",
			Evidence: &report.Evidence{Value: "authentication.anonymous.enabled: false", Origin: "file", Location: "/var/lib/kubelet/config.yaml"}},
		{Check: encryption, Target: api, Source: cmdline, Status: control.StatusManual,
			Message: "the encryption providers must be reviewed by hand"},
		{Check: etcd, Target: k8s.Ref{Kind: "Process", Name: "etcd"}, Status: control.StatusNotApplicable,
			Message: "etcd is not running on this node"},
		{Check: perms, Target: k8s.Ref{Kind: "File", Name: "/var/lib/kubelet/config.yaml"}, Source: k8s.Source{File: "/var/lib/kubelet/config.yaml"}, Status: control.StatusWarn,
			Message:  "cannot stat /var/lib/kubelet/config.yaml: permission denied",
			Evidence: &report.Evidence{Origin: "absent", Location: "/var/lib/kubelet/config.yaml"}},
	}
	return audit.Build("dev", audit.Framework{ID: "cis-node", Name: "CIS Kubernetes Benchmark (node and control plane)", Version: "1.10"},
		[]*audit.Check{anon, encryption, etcd, perms, kubeletAnon}, results, nil)
}

// Metadata returns the metadata of the controls Scan runs, by ID.
func Metadata(t testing.TB) map[string]control.Metadata {
	t.Helper()
	out := map[string]control.Metadata{}
	for _, c := range Controls(t) {
		out[c.ID] = c.Metadata
	}
	return out
}

// Lookup returns a metadata lookup over the controls Scan runs.
func Lookup(t testing.TB) func(id string) (control.Metadata, bool) {
	m := Metadata(t)
	return func(id string) (control.Metadata, bool) {
		md, ok := m[id]
		return md, ok
	}
}

// Controls returns the test controls Scan runs.
func Controls(t testing.TB) []*control.Control {
	t.Helper()
	return []*control.Control{privileged(), hostNetwork(), latestImage(), evaluationError(), serviceWithoutPods()}
}

// LibraryScan runs the real engine with every built-in control and
// framework over paths. Its output follows the catalogue, so it suits
// validity checks rather than golden files.
func LibraryScan(t testing.TB, paths ...string) *report.Result {
	t.Helper()
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	fws, err := framework.Load()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(reg.All(), engine.WithFrameworks(fws.All()), engine.WithVersion("dev"))
	return eng.Scan(context.Background(), paths, load.Options{Limits: load.DefaultLimits})
}

// LibraryLookup returns a metadata lookup over the built-in catalogue.
func LibraryLookup(t testing.TB) func(id string) (control.Metadata, bool) {
	t.Helper()
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return func(id string) (control.Metadata, bool) {
		c, ok := reg.Get(id)
		if !ok {
			return control.Metadata{}, false
		}
		return c.Metadata, true
	}
}

// Corpus returns the path of a real-world corpus directory from a writer's
// package directory.
func Corpus(name string) string {
	return filepath.Join("..", "..", "..", "testdata", "corpus", name)
}

// Frameworks returns a test framework mapping the controls Scan runs.
func Frameworks() []*framework.Framework {
	return []*framework.Framework{{
		ID: "test-fw", Name: "Test Framework", Version: "1.0", URL: "https://example.com/fw",
		Items: []framework.Item{
			{ID: "T-1", Name: "No privileged containers", Controls: []string{"test-privileged"}},
			{ID: "T-2", Name: "Pinned images", Controls: []string{"test-latest-image"}},
			{ID: "T-3", Name: "Services reach pods", Controls: []string{"test-service-without-pods"}},
			{ID: "T-4", Name: "Not run by this scan", Controls: []string{"no-such-control"}},
		},
	}}
}

// Exceptions are the config exceptions Scan applies: one valid, one expired.
func Exceptions() []engine.Exception {
	return []engine.Exception{
		{Controls: []string{"test-latest-image"}, Names: []string{"legacy-*"}, Reason: "vendor image, pinned upstream", Expires: "2099-01-01"},
		{Controls: []string{"test-privileged"}, Names: []string{"expired-*"}, Reason: "temporary debugging", Expires: "2024-01-01"},
	}
}

// Clock is the fixed time Scan uses for exception expiry.
var Clock = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Scan runs the real engine over paths with Controls, Frameworks and
// Exceptions, and a fixed clock.
func Scan(t testing.TB, paths ...string) *report.Result {
	t.Helper()
	eng := engine.New(Controls(t),
		engine.WithFrameworks(Frameworks()),
		engine.WithExceptions(Exceptions()),
		engine.WithClock(func() time.Time { return Clock }),
		engine.WithWorkers(runtime.GOMAXPROCS(0)),
		engine.WithVersion("dev"),
	)
	if len(paths) == 0 {
		return eng.NewSession().Finish()
	}
	return eng.Scan(context.Background(), paths, load.Options{Limits: load.DefaultLimits})
}

const fence = "```"

// privileged fails privileged containers.
func privileged() *control.Control {
	return &control.Control{
		Metadata: control.Metadata{
			ID: "test-privileged", Title: "Privileged container", Severity: control.SeverityCritical, Category: "workload",
			Description: "Test control: a privileged container can take over its node.",
			Remediation: "Drop privileged mode:\n" + fence + "yaml\nsecurityContext:\n  privileged: false\n" + fence + "\n",
			References:  []string{"https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline", "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"},
		},
		Check: func(ctx *control.Context) {
			ps, ok := k8s.PodSpecOf(ctx.Obj)
			if !ok {
				return
			}
			for _, c := range ps.Containers() {
				if v, _ := k8s.Bool(c.SecurityContext(), "privileged"); v {
					ctx.Failf(k8s.Key(k8s.Key(c.Path, "securityContext"), "privileged"), c.Name, "container %q runs privileged", c.Name)
				}
			}
		},
	}
}

// hostNetwork fails pods sharing the node's network namespace.
func hostNetwork() *control.Control {
	return &control.Control{
		Metadata: control.Metadata{
			ID: "test-host-network", Title: "Host network", Severity: control.SeverityHigh, Category: "workload",
			Description: "Test control: a pod on the host network sees every node interface.",
			Remediation: "Leave the host network:\n" + fence + "yaml\nspec:\n  hostNetwork: false\n" + fence + "\n",
			References:  []string{"https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline"},
		},
		Check: func(ctx *control.Context) {
			ps, ok := k8s.PodSpecOf(ctx.Obj)
			if !ok {
				return
			}
			if v, _ := k8s.Bool(ps.Spec, "hostNetwork"); v {
				ctx.Fail(k8s.Key(ps.Path, "hostNetwork"), "", "the pod shares the node's network namespace")
			}
		},
	}
}

// latestImage fails containers whose image has no tag or the tag latest.
func latestImage() *control.Control {
	return &control.Control{
		Metadata: control.Metadata{
			ID: "test-latest-image", Title: "Image not pinned", Severity: control.SeverityMedium, Category: "workload",
			Description: "Test control: an image without a tag, or tagged latest, changes under your feet.",
			Remediation: "Pin the image to a version or digest:\n" + fence + "yaml\nimage: nginx:1.27.0\n" + fence + "\n",
			References:  []string{"https://kubernetes.io/docs/concepts/containers/images/#image-names"},
		},
		Check: func(ctx *control.Context) {
			ps, ok := k8s.PodSpecOf(ctx.Obj)
			if !ok {
				return
			}
			for _, c := range ps.Containers() {
				img := k8s.Str(c.Spec, "image")
				name := img
				if i := strings.LastIndex(name, "/"); i >= 0 {
					name = name[i+1:]
				}
				if strings.Contains(img, "@") || (strings.Contains(name, ":") && !strings.HasSuffix(name, ":latest")) {
					continue
				}
				ctx.Failf(k8s.Key(c.Path, "image"), c.Name, "container %q uses image %q, which is not pinned to a version", c.Name, img)
			}
		},
	}
}

// evaluationError panics on objects annotated test.rampart.dev/panic, to
// produce evaluation errors.
func evaluationError() *control.Control {
	return &control.Control{
		Metadata: control.Metadata{
			ID: "test-evaluation-error", Title: "Evaluation error probe", Severity: control.SeverityLow, Category: "workload",
			Description: "Test control that cannot evaluate objects annotated test.rampart.dev/panic.",
			Remediation: "Remove the annotation:\n" + fence + "yaml\nmetadata:\n  annotations: {}\n" + fence + "\n",
			References:  []string{"https://example.com/test-evaluation-error"},
		},
		Kinds: []string{"Pod", "Deployment"},
		Check: func(ctx *control.Context) {
			if v, ok := ctx.Obj.Annotations()["test.rampart.dev/panic"]; ok {
				panic(fmt.Sprintf("unexpected value %q", v))
			}
		},
	}
}

// serviceWithoutPods fails Services whose selector matches no pod template.
func serviceWithoutPods() *control.Control {
	return &control.Control{
		Metadata: control.Metadata{
			ID: "test-service-without-pods", Title: "Service selects no pods", Severity: control.SeverityInfo, Category: "network",
			Description: "Test cross-object control: a Service whose selector matches no workload in the scan.",
			Remediation: "Fix the selector:\n" + fence + "yaml\nspec:\n  selector:\n    app: web\n" + fence + "\n",
			References:  []string{"https://kubernetes.io/docs/concepts/services-networking/service/"},
		},
		Cross: func(cc *control.CrossContext) {
			for _, svc := range cc.Inv.Kind("Service") {
				sel := k8s.StringMap(k8s.Map(svc.Content(), "spec"), "selector")
				if len(sel) == 0 {
					continue
				}
				cc.Evaluate(svc)
				found := false
				for _, w := range cc.Inv.Workloads() {
					if w.Ref.Namespace == svc.Ref.Namespace && w.Pod != nil && k8s.MatchSelectorMap(sel, w.Pod.Labels) {
						found = true
						break
					}
				}
				if !found {
					cc.Fail(svc, control.Violation{Path: "spec.selector", Message: fmt.Sprintf("selector of Service %s matches no pod in namespace %q", svc.Ref.Name, svc.Ref.Namespace)})
				}
			}
		},
	}
}

// Handmade returns a Result built by hand with edge cases the fixtures do
// not reach: every severity, HTML and XML special characters, control
// characters, very long names and messages, a missing line, an origin, and
// Windows-style paths.
func Handmade() *report.Result {
	long := strings.Repeat("very-long-name-", 8) + "end"
	obj := func(kind, ns, name string) k8s.Ref {
		return k8s.Ref{APIVersion: "apps/v1", Kind: kind, Namespace: ns, Name: name}
	}
	r := &report.Result{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "rampart", Version: "dev"},
		Objects: []report.ObjectRecord{
			{Ref: obj("Deployment", "prod", `<script>alert("x")</script>`), Source: k8s.Source{File: "charts/app/templates/deploy.yaml", Line: 1, Origin: "helm:charts/app"}},
			{Ref: obj("StatefulSet", long, long), Source: k8s.Source{File: `dir with space\sub\ss.yaml`, Line: 3}},
			{Ref: k8s.Ref{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "admin & co"}, Source: k8s.Source{File: "-", Line: 0}},
		},
		Findings: []report.Finding{
			{Control: "ctl-critical", Title: "Critical <thing>", Severity: "critical", Status: "fail", Object: obj("Deployment", "prod", `<script>alert("x")</script>`),
				Container: `c&"'<>`, Path: "spec.template.spec.containers[0].securityContext.privileged",
				Source:  k8s.Source{File: "charts/app/templates/deploy.yaml", Line: 12, Origin: "helm:charts/app"},
				Message: `container "c&\"'<>" is <b>privileged</b> ]]> & escapes` + "\x01\x1b[31m", Remediation: "Set it:\n```yaml\nprivileged: false\n```\n"},
			{Control: "ctl-high", Title: "High", Severity: "high", Status: "fail", Object: obj("StatefulSet", long, long), Container: long,
				Path: "spec.template.spec.containers[3].image", Source: k8s.Source{File: `dir with space\sub\ss.yaml`, Line: 20},
				Message: strings.Repeat("a long message that must wrap nicely in narrow terminals ", 5), Remediation: "Fix it."},
			{Control: "ctl-medium", Title: "Medium", Severity: "medium", Status: "warn", Object: obj("StatefulSet", long, long),
				Source: k8s.Source{File: `dir with space\sub\ss.yaml`, Line: 3}, Message: "a warning", Remediation: "Consider it."},
			{Control: "ctl-low", Title: "Low", Severity: "low", Status: "excepted", Object: k8s.Ref{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "admin & co"},
				Path: "rules[0]", Source: k8s.Source{File: "-"}, Message: "wildcard verbs",
				Remediation: "List verbs.", Exception: &report.Exception{Source: "annotation", Reason: `accepted by "security" <team>`}},
			{Control: "ctl-info", Title: "Info", Severity: "info", Status: "error", Object: obj("Deployment", "prod", `<script>alert("x")</script>`),
				Source: k8s.Source{File: "charts/app/templates/deploy.yaml", Line: 1, Origin: "helm:charts/app"}, Message: "control ctl-info could not evaluate this object: boom", Remediation: "None."},
		},
		Errors: []report.InputError{
			{File: "bad <file>.yaml", Line: 7, Message: `yaml: line 7: did not find expected key & "more"`},
			{File: "(control ctl-cross)", Message: "cross-object evaluation failed: boom"},
		},
		Controls: []report.ControlResult{
			{ID: "ctl-critical", Title: "Critical <thing>", Severity: "critical", Evaluated: 2, Failed: 1, Objects: []int32{0, 1}},
			{ID: "ctl-high", Title: "High", Severity: "high", Evaluated: 1, Failed: 1, Objects: []int32{1}},
			{ID: "ctl-medium", Title: "Medium", Severity: "medium", Evaluated: 1, Objects: []int32{1}},
			{ID: "ctl-low", Title: "Low", Severity: "low", Evaluated: 1, Excepted: 1, Objects: []int32{2}},
			{ID: "ctl-info", Title: "Info", Severity: "info", Evaluated: 1, Objects: []int32{0}},
			{ID: "ctl-unused", Title: "Evaluated nothing", Severity: "low", Objects: []int32{}},
		},
		Frameworks: []report.FrameworkScore{
			{ID: "fw-a", Name: "Framework <A>", Version: "1", Score: 33.3, Controls: 3, Passed: 1, Failed: 2, Items: []report.FrameworkItem{
				{ID: "A.1", Name: "crit", Controls: []string{"ctl-critical"}, Status: "fail", Failed: 1},
				{ID: "A.2", Name: "high", Controls: []string{"ctl-high"}, Status: "fail", Failed: 1},
				{ID: "A.3", Name: "low", Controls: []string{"ctl-low"}, Status: "pass"},
			}},
			{ID: "fw-empty", Name: "Empty", Version: "0", Items: []report.FrameworkItem{}},
		},
	}
	r.Summary = report.Summary{Files: 3, Objects: len(r.Objects), Controls: len(r.Controls), Findings: len(r.Findings),
		ByStatus: map[string]int{}, BySeverity: map[string]int{}, Errors: len(r.Errors)}
	for _, f := range r.Findings {
		r.Summary.ByStatus[f.Status]++
		if f.Status == "fail" {
			r.Summary.BySeverity[f.Severity]++
		}
	}
	return r
}
