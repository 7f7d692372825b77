package pss

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/controltest"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// oracle compares the verdicts of our PSS controls with those of the
// upstream admission controller, k8s.io/pod-security-admission, at the
// latest version.
type oracle struct {
	eval     policy.Evaluator
	checks   map[policy.CheckID]policy.CheckPodFn
	controls []*control.Control
	levels   map[psaapi.Level]map[string]bool // level → member control IDs
}

func newOracle(t *testing.T) *oracle {
	t.Helper()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &oracle{eval: eval, checks: latestChecks(t), controls: controltest.Controls(t, Controls), levels: map[psaapi.Level]map[string]bool{}}
	fws := framework.MustLoad()
	for lvl, id := range map[psaapi.Level]string{psaapi.LevelBaseline: "pss-baseline", psaapi.LevelRestricted: "pss-restricted"} {
		f, ok := fws.Get(id)
		if !ok {
			t.Fatalf("framework %s is not defined", id)
		}
		set := map[string]bool{}
		for _, c := range f.ControlIDs() {
			set[c] = true
		}
		o.levels[lvl] = set
	}
	return o
}

// checkGroups pairs groups of PSA checks with the controls that mirror
// them: on every pod spec, some check of a group fails if and only if some
// control of the pair fails. This is finer than the per-level verdict, which
// one failure elsewhere can hide.
var checkGroups = []struct {
	checks   []policy.CheckID
	controls []string
}{
	{[]policy.CheckID{"privileged"}, []string{"privileged-container"}},
	{[]policy.CheckID{"allowPrivilegeEscalation"}, []string{"privilege-escalation"}},
	{[]policy.CheckID{"hostNamespaces"}, []string{"host-pid", "host-ipc", "host-network"}},
	{[]policy.CheckID{"hostPorts", "hostProbesAndHostLifecycle"}, []string{"host-port"}},
	{[]policy.CheckID{"hostPathVolumes"}, []string{"host-path-volume"}},
	{[]policy.CheckID{"restrictedVolumes"}, []string{"restricted-volume-types"}},
	{[]policy.CheckID{"runAsNonRoot", "runAsUser", "procMount_restricted"}, []string{"run-as-root", "unmasked-proc-mount"}},
	{[]policy.CheckID{"capabilities_baseline"}, []string{"dangerous-capabilities"}},
	{[]policy.CheckID{"capabilities_restricted"}, []string{"capabilities-not-dropped"}},
	{[]policy.CheckID{"seccompProfile_baseline"}, []string{"seccomp-unconfined"}},
	{[]policy.CheckID{"seccompProfile_baseline", "seccompProfile_restricted"}, []string{"seccomp-unconfined", "seccomp-profile-missing"}},
	{[]policy.CheckID{"appArmorProfile"}, []string{"apparmor-unconfined"}},
	{[]policy.CheckID{"seLinuxOptions"}, []string{"selinux-custom-options"}},
	{[]policy.CheckID{"procMount"}, []string{"unmasked-proc-mount"}},
	{[]policy.CheckID{"sysctls"}, []string{"unsafe-sysctls"}},
	{[]policy.CheckID{"windowsHostProcess"}, []string{"windows-host-process"}},
}

// latestChecks returns each default PSA check's newest implementation by ID.
func latestChecks(t *testing.T) map[policy.CheckID]policy.CheckPodFn {
	t.Helper()
	out := map[policy.CheckID]policy.CheckPodFn{}
	for _, c := range policy.DefaultChecks() {
		out[c.ID] = c.Versions[len(c.Versions)-1].CheckPod
	}
	grouped := map[policy.CheckID]bool{}
	for _, g := range checkGroups {
		for _, id := range g.checks {
			if out[id] == nil {
				t.Fatalf("PSA has no check %s", id)
			}
			grouped[id] = true
		}
	}
	for id := range out {
		if !grouped[id] {
			t.Errorf("PSA check %s is mirrored by no control", id)
		}
	}
	return out
}

// disagreement describes one pod spec on which we and PSA differ.
type disagreement struct {
	level   psaapi.Level
	psa     bool // PSA allows
	ours    bool // our controls allow
	reasons string
	fails   []string
}

// compare evaluates obj both ways. ok is false when obj has no pod spec or
// its pod spec does not convert to the typed API (with the reason in skip).
func (o *oracle) compare(obj *k8s.Object) (out []disagreement, ok bool, skip string) {
	ps, found := k8s.PodSpecOf(obj)
	if !found {
		return nil, false, "no pod spec"
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ps.Spec, &spec); err != nil {
		return nil, false, err.Error()
	}
	var meta metav1.ObjectMeta
	if ps.Meta != nil {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ps.Meta, &meta); err != nil {
			return nil, false, err.Error()
		}
	}
	failed := map[string][]string{}
	for _, c := range o.controls {
		if !c.Applies(obj) {
			continue
		}
		ctx := &control.Context{Obj: obj, Settings: &control.Settings{}}
		c.Check(ctx)
		for _, v := range ctx.Violations {
			failed[c.ID] = append(failed[c.ID], v.Path+": "+v.Message)
		}
	}
	for _, lvl := range []psaapi.Level{psaapi.LevelBaseline, psaapi.LevelRestricted} {
		res := policy.AggregateCheckResults(o.eval.EvaluatePod(psaapi.LevelVersion{Level: lvl, Version: psaapi.LatestVersion()}, &meta, &spec))
		var fails []string
		for id, msgs := range failed {
			if o.levels[lvl][id] {
				for _, m := range msgs {
					fails = append(fails, id+" "+m)
				}
			}
		}
		sort.Strings(fails)
		ours := len(fails) == 0
		if ours != res.Allowed {
			out = append(out, disagreement{level: lvl, psa: res.Allowed, ours: ours, reasons: res.ForbiddenReason() + ": " + res.ForbiddenDetail(), fails: fails})
		}
	}
	for _, g := range checkGroups {
		psaAllowed, reasons := true, []string{}
		for _, id := range g.checks {
			if r := o.checks[id](&meta, &spec); !r.Allowed {
				psaAllowed = false
				reasons = append(reasons, string(id)+": "+r.ForbiddenReason+": "+r.ForbiddenDetail)
			}
		}
		var fails []string
		for _, id := range g.controls {
			for _, m := range failed[id] {
				fails = append(fails, id+" "+m)
			}
		}
		if ours := len(fails) == 0; ours != psaAllowed {
			out = append(out, disagreement{level: psaapi.Level("checks " + fmt.Sprint(g.checks)), psa: psaAllowed, ours: ours, reasons: strings.Join(reasons, "; "), fails: fails})
		}
	}
	return out, true, ""
}

// psaAllows returns PSA's verdict on obj at lvl.
func (o *oracle) psaAllows(t *testing.T, obj *k8s.Object, lvl psaapi.Level) bool {
	t.Helper()
	ps, _ := k8s.PodSpecOf(obj)
	var spec corev1.PodSpec
	var meta metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ps.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	if ps.Meta != nil {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ps.Meta, &meta); err != nil {
			t.Fatal(err)
		}
	}
	return policy.AggregateCheckResults(o.eval.EvaluatePod(psaapi.LevelVersion{Level: lvl, Version: psaapi.LatestVersion()}, &meta, &spec)).Allowed
}

func reportDisagreements(t *testing.T, where string, ds []disagreement) {
	t.Helper()
	for _, d := range ds {
		t.Errorf("%s at %s: PSA allowed=%v, rampart allowed=%v\n  PSA: %s\n  rampart failures: %s",
			where, d.level, d.psa, d.ours, d.reasons, strings.Join(d.fails, "\n    "))
	}
}

// TestOracleCorpus holds every pod-bearing object of the real-world corpus
// and the examples to the same verdict as PSA, at both levels.
func TestOracleCorpus(t *testing.T) {
	o := newOracle(t)
	root := controltest.Root(t)
	var compared, skipped, baselineDenied, restrictedDenied, restrictedAllowed int
	for _, dir := range []string{"examples", controltest.CorpusDir} {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
			t.Logf("skipping missing %s", dir)
			continue
		}
		for _, f := range controltest.ManifestFiles(t, dir) {
			rel := f.Name
			load.Decode(load.Unit{File: rel}, f.Data, load.DefaultLimits, func(obj *k8s.Object) {
				if !k8s.IsPodBearing(obj.Kind()) {
					return
				}
				ds, ok, why := o.compare(obj)
				if !ok {
					skipped++
					t.Logf("skipped %s:%d %s: %s", rel, obj.Source.Line, obj.Ref(), why)
					return
				}
				compared++
				if !o.psaAllows(t, obj, psaapi.LevelBaseline) {
					baselineDenied++
				}
				if o.psaAllows(t, obj, psaapi.LevelRestricted) {
					restrictedAllowed++
				} else {
					restrictedDenied++
				}
				reportDisagreements(t, rel+":"+strconv.Itoa(obj.Source.Line)+" "+obj.Ref().String(), ds)
			})
		}
	}
	t.Logf("compared %d pod specs (skipped %d): PSA denies %d at baseline, %d at restricted, allows %d at restricted",
		compared, skipped, baselineDenied, restrictedDenied, restrictedAllowed)
	// The corpus must exercise both verdicts at both levels, or agreement
	// proves nothing.
	if compared < 100 || baselineDenied == 0 || compared-baselineDenied == 0 || restrictedDenied == 0 {
		t.Errorf("corpus too thin to test agreement: %d compared, %d denied at baseline, %d denied at restricted", compared, baselineDenied, restrictedDenied)
	}
}

// TestOracleTricky runs hand-written edge cases through the same
// comparison; want* record PSA's own verdict so that each case is known to
// exercise what it claims.
func TestOracleTricky(t *testing.T) {
	o := newOracle(t)
	tests := []struct {
		name                         string
		yaml                         string
		wantBaseline, wantRestricted bool // PSA allows
	}{
		{
			name:         "restricted-compliant pod",
			yaml:         restrictedPod(``, ``),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name:         "empty pod spec",
			yaml:         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: nginx\n",
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "pod runAsNonRoot true but container runAsUser 0",
			yaml: restrictedPod(``, `
      runAsUser: 0`),
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "pod runAsUser 0 overridden by container runAsUser 1000",
			yaml: restrictedPod(`
    runAsUser: 0`, `
      runAsUser: 1000`),
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "container runAsNonRoot false overrides pod true",
			yaml: restrictedPod(``, `
      runAsNonRoot: false`),
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "user namespace relaxes runAsUser 0",
			yaml: strings.Replace(restrictedPod(``, `
      runAsUser: 0
      runAsNonRoot: false`), "spec:\n", "spec:\n  hostUsers: false\n", 1),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "user namespace with unmasked proc mount",
			yaml: strings.Replace(restrictedPod(``, `
      procMount: Unmasked`), "spec:\n", "spec:\n  hostUsers: false\n", 1),
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "unmasked proc mount on host users",
			yaml: restrictedPod(``, `
      procMount: Unmasked`),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "procMount Default",
			yaml: restrictedPod(``, `
      procMount: Default`),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "windows pod skips linux-only restricted checks",
			yaml: `apiVersion: v1
kind: Pod
metadata: {name: win}
spec:
  os: {name: windows}
  securityContext:
    runAsNonRoot: true
  containers:
  - name: app
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
`,
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "windows pod still needs runAsNonRoot",
			yaml: `apiVersion: v1
kind: Pod
metadata: {name: win}
spec:
  os: {name: windows}
  containers:
  - name: app
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
`,
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "windows hostProcess pod",
			yaml: `apiVersion: v1
kind: Pod
metadata: {name: win}
spec:
  os: {name: windows}
  hostNetwork: true
  securityContext:
    runAsNonRoot: true
    windowsOptions:
      hostProcess: true
      runAsUserName: "NT AUTHORITY\\SYSTEM"
  containers:
  - name: app
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
`,
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "windows hostProcess on one container only",
			yaml: `apiVersion: v1
kind: Pod
metadata: {name: win}
spec:
  os: {name: windows}
  securityContext: {runAsNonRoot: true}
  containers:
  - name: app
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
    securityContext:
      windowsOptions: {hostProcess: true}
`,
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "ephemeral container without hardening",
			yaml: restrictedPod(``, ``) + `  ephemeralContainers:
  - name: debugger
    image: busybox
`,
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "privileged ephemeral container",
			yaml: restrictedPod(``, ``) + `  ephemeralContainers:
  - name: debugger
    image: busybox
    securityContext: {privileged: true}
`,
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "legacy seccomp annotation unconfined is ignored when the field is set",
			yaml: strings.Replace(restrictedPod(``, ``), "metadata: {name: p}", `metadata:
  name: p
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: unconfined
    container.seccomp.security.alpha.kubernetes.io/app: unconfined`, 1),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "legacy seccomp annotation runtime/default does not satisfy restricted",
			yaml: `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: runtime/default
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`,
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "seccomp Unconfined field on container",
			yaml: restrictedPod(``, `
      seccompProfile: {type: Unconfined}`),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "container Localhost seccomp with no pod profile",
			yaml: strings.Replace(restrictedPod(``, `
      seccompProfile: {type: Localhost, localhostProfile: profiles/app.json}`), "    seccompProfile: {type: RuntimeDefault}\n", "", 1),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "seccomp profile with empty type",
			yaml: restrictedPod(``, `
      seccompProfile: {}`),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "safe and unsafe sysctls",
			yaml: restrictedPod(`
    sysctls:
    - {name: net.ipv4.tcp_keepalive_time, value: "600"}
    - {name: kernel.msgmax, value: "65536"}`, ``),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "newest safe sysctl",
			yaml: restrictedPod(`
    sysctls:
    - {name: net.ipv4.tcp_notsent_lowat, value: "16384"}`, ``),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "AppArmor annotation unconfined",
			yaml: strings.Replace(restrictedPod(``, ``), "metadata: {name: p}", `metadata:
  name: p
  annotations:
    container.apparmor.security.beta.kubernetes.io/app: unconfined`, 1),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "AppArmor annotation localhost profile",
			yaml: strings.Replace(restrictedPod(``, ``), "metadata: {name: p}", `metadata:
  name: p
  annotations:
    container.apparmor.security.beta.kubernetes.io/app: localhost/k8s-nginx`, 1),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "AppArmor field Unconfined at pod level",
			yaml: restrictedPod(`
    appArmorProfile: {type: Unconfined}`, ``),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "SELinux container_engine_t allowed",
			yaml: restrictedPod(`
    seLinuxOptions: {type: container_engine_t}`, ``),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name: "SELinux custom user",
			yaml: restrictedPod(``, `
      seLinuxOptions: {user: system_u}`),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name: "SELinux spc_t",
			yaml: restrictedPod(``, `
      seLinuxOptions: {type: spc_t}`),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "capability NET_BIND_SERVICE added",
			yaml:         restrictedPod(``, ``, "NET_BIND_SERVICE"),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name:         "capability CHOWN added: baseline yes, restricted no",
			yaml:         restrictedPod(``, ``, "CHOWN"),
			wantBaseline: true, wantRestricted: false,
		},
		{
			name:         "capability NET_RAW added",
			yaml:         restrictedPod(``, ``, "NET_RAW"),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "hostPort zero is allowed",
			yaml:         strings.Replace(restrictedPod(``, ``), "    image: nginx\n", "    image: nginx\n    ports:\n    - {containerPort: 80, hostPort: 0}\n", 1),
			wantBaseline: true, wantRestricted: true,
		},
		{
			name:         "probe with explicit host",
			yaml:         strings.Replace(restrictedPod(``, ``), "    image: nginx\n", "    image: nginx\n    livenessProbe:\n      httpGet: {host: 169.254.169.254, path: /, port: 80}\n", 1),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "preStop tcpSocket with explicit host",
			yaml:         strings.Replace(restrictedPod(``, ``), "    image: nginx\n", "    image: nginx\n    lifecycle:\n      preStop:\n        tcpSocket: {host: 10.0.0.1, port: 22}\n", 1),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "hostPath volume",
			yaml:         restrictedPod(``, ``) + "  volumes:\n  - name: logs\n    hostPath: {path: /var/log}\n",
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "nfs volume: baseline yes, restricted no",
			yaml:         restrictedPod(``, ``) + "  volumes:\n  - name: data\n    nfs: {server: nfs.local, path: /export}\n",
			wantBaseline: true, wantRestricted: false,
		},
		{
			name:         "volume with no source",
			yaml:         restrictedPod(``, ``) + "  volumes:\n  - name: data\n",
			wantBaseline: true, wantRestricted: false,
		},
		{
			name:         "allowed volume types",
			yaml:         restrictedPod(``, ``) + "  volumes:\n  - {name: a, emptyDir: {}}\n  - {name: b, configMap: {name: c}}\n  - {name: c, projected: {sources: []}}\n  - {name: d, image: {reference: img}}\n  - {name: e, ephemeral: {volumeClaimTemplate: {spec: {}}}}\n",
			wantBaseline: true, wantRestricted: true,
		},
		{
			name:         "host namespaces",
			yaml:         strings.Replace(restrictedPod(``, ``), "spec:\n", "spec:\n  hostPID: true\n  hostIPC: false\n", 1),
			wantBaseline: false, wantRestricted: false,
		},
		{
			name:         "allowPrivilegeEscalation unset on an init container",
			yaml:         restrictedPod(``, ``) + "  initContainers:\n  - name: init\n    image: busybox\n    securityContext:\n      capabilities: {drop: [ALL]}\n",
			wantBaseline: true, wantRestricted: false,
		},
		{
			name: "CronJob template",
			yaml: `apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          securityContext:
            runAsNonRoot: true
            seccompProfile: {type: RuntimeDefault}
          containers:
          - name: job
            image: busybox
            securityContext:
              allowPrivilegeEscalation: false
              capabilities: {drop: [ALL]}
`,
			wantBaseline: true, wantRestricted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := controltest.DecodeOne(t, tt.yaml)
			ds, ok, why := o.compare(obj)
			if !ok {
				t.Fatalf("not comparable: %s", why)
			}
			if got := o.psaAllows(t, obj, psaapi.LevelBaseline); got != tt.wantBaseline {
				t.Errorf("PSA baseline allows = %v, case expects %v", got, tt.wantBaseline)
			}
			if got := o.psaAllows(t, obj, psaapi.LevelRestricted); got != tt.wantRestricted {
				t.Errorf("PSA restricted allows = %v, case expects %v", got, tt.wantRestricted)
			}
			reportDisagreements(t, tt.name, ds)
		})
	}
}

// restrictedPod returns a Pod that meets PSS restricted, with extra lines
// appended to the pod securityContext and to the container securityContext,
// and the container adding the given capabilities.
func restrictedPod(podSC, containerSC string, add ...string) string {
	caps := "      capabilities: {drop: [ALL]}"
	if len(add) > 0 {
		caps = "      capabilities: {drop: [ALL], add: [" + strings.Join(add, ", ") + "]}"
	}
	return `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}` + podSC + `
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
` + caps + containerSC + `
`
}
