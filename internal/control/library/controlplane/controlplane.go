// Package controlplane holds the controls over the Kubernetes control plane
// as it appears in manifests: kubeadm-style static pods (and self-hosted
// Deployments or DaemonSets) running kube-apiserver, etcd,
// kube-controller-manager, kube-scheduler or kubelet, whose flags are read
// from command and args, and KubeletConfiguration files. An absent flag
// takes the component's documented default, so a bare kube-apiserver fails
// the checks whose defaults are insecure.
package controlplane

import (
	_ "embed"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Component binaries.
const (
	apiserver         = "kube-apiserver"
	etcd              = "etcd"
	kubelet           = "kubelet"
	controllerManager = "kube-controller-manager"
	scheduler         = "kube-scheduler"
)

// kubeletKinds adds the kubelet's configuration file kind.
var kubeletKinds = append(append([]string{}, k8s.PodKinds...), "KubeletConfiguration")

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

// runs returns the invocations of every container of obj running program.
func runs(obj *k8s.Object, program string) []run {
	if !mayRun(obj) {
		return nil
	}
	ps, ok := k8s.PodSpecOf(obj)
	if !ok {
		return nil
	}
	var out []run
	for _, ct := range ps.Containers() {
		if inv, ok := ControlPlane(ct); ok && inv.Program == program {
			out = append(out, run{ct: ct, inv: inv})
		}
	}
	return out
}

// podSpecMap returns the pod spec of a pod-bearing object by direct map
// lookups, without building paths.
func podSpecMap(obj *k8s.Object) map[string]any {
	m := obj.Content
	switch obj.Kind() {
	case "Pod":
		return k8s.Map(m, "spec")
	case "PodTemplate":
		return k8s.Map(k8s.Map(m, "template"), "spec")
	case "CronJob":
		m = k8s.Map(k8s.Map(k8s.Map(m, "spec"), "jobTemplate"), "spec")
	}
	return k8s.Map(k8s.Map(k8s.Map(m, "spec"), "template"), "spec")
}

// mayRun reports, without allocating, whether some container of obj could
// run a control plane binary: its first command word (or first arg when it
// has no command) is not ruled out by candidate.
func mayRun(obj *k8s.Object) bool {
	spec := podSpecMap(obj)
	for _, f := range k8s.ContainerFields {
		for _, it := range k8s.Slice(spec, f) {
			c, _ := it.(map[string]any)
			if candidate(c) {
				return true
			}
		}
	}
	return false
}

// run is one container running a control plane binary.
type run struct {
	ct  k8s.Container
	inv Invocation
}

// componentControl builds a control over the containers running program.
func componentControl(id, program string, check func(c *control.Context, ct k8s.Container, inv Invocation)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    k8s.PodKinds,
		Match:    func(obj *k8s.Object) bool { return len(runs(obj, program)) > 0 },
		Check: func(c *control.Context) {
			for _, r := range runs(c.Obj, program) {
				check(c, r.ct, r.inv)
			}
		},
	}
}

// isKubeletConfig reports whether obj is a KubeletConfiguration file.
func isKubeletConfig(obj *k8s.Object) bool {
	return obj.Kind() == "KubeletConfiguration" && obj.Group() == "kubelet.config.k8s.io"
}

// kubeletControl builds a control over kubelet command lines and
// KubeletConfiguration files.
func kubeletControl(id string, flags func(c *control.Context, ct k8s.Container, inv Invocation), file func(c *control.Context)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    kubeletKinds,
		Match: func(obj *k8s.Object) bool {
			if obj.Kind() == "KubeletConfiguration" {
				return isKubeletConfig(obj)
			}
			return len(runs(obj, kubelet)) > 0
		},
		Check: func(c *control.Context) {
			if c.Obj.Kind() == "KubeletConfiguration" {
				file(c)
				return
			}
			for _, r := range runs(c.Obj, kubelet) {
				flags(c, r.ct, r.inv)
			}
		},
	}
}

func logic() []*control.Control {
	return []*control.Control{
		componentControl("apiserver-insecure-port", apiserver, insecurePort),
		componentControl("apiserver-anonymous-auth", apiserver, apiserverAnonymous),
		componentControl("apiserver-always-allow", apiserver, apiserverAlwaysAllow),
		componentControl("apiserver-always-admit", apiserver, alwaysAdmit),
		componentControl("apiserver-audit-log-disabled", apiserver, auditLog),
		componentControl("apiserver-encryption-at-rest", apiserver, encryptionAtRest),
		componentControl("apiserver-etcd-no-tls", apiserver, etcdTLS),
		componentControl("apiserver-profiling", apiserver, profiling),
		componentControl("etcd-no-client-auth", etcd, etcdClientAuth),
		kubeletControl("kubelet-anonymous-auth", kubeletAnonymousFlags, kubeletAnonymousFile),
		kubeletControl("kubelet-always-allow", kubeletAlwaysAllowFlags, kubeletAlwaysAllowFile),
		kubeletControl("kubelet-read-only-port", kubeletReadOnlyFlags, kubeletReadOnlyFile),
		componentControl("controller-manager-profiling", controllerManager, profiling),
		componentControl("scheduler-profiling", scheduler, profiling),
	}
}

// isFalse reports whether a boolean flag value is false, as strconv.ParseBool reads it.
func isFalse(v string) bool {
	switch v {
	case "false", "False", "FALSE", "f", "F", "0":
		return true
	}
	return false
}

// isTrue reports whether a boolean flag value is true, as strconv.ParseBool reads it.
func isTrue(v string) bool {
	switch v {
	case "true", "True", "TRUE", "t", "T", "1":
		return true
	}
	return false
}

func insecurePort(c *control.Context, ct k8s.Container, inv Invocation) {
	// --port was the deprecated alias of --insecure-port, --address of
	// --insecure-bind-address; both were removed with them in 1.24.
	for _, name := range []string{"insecure-port", "port"} {
		if f, ok := inv.Last(name); ok && strings.TrimSpace(f.Value) != "0" {
			c.Failf(f.Path, ct.Name, "kube-apiserver serves its unauthenticated, unauthorized HTTP port (--%s=%s)", name, f.Value)
		}
	}
	for _, name := range []string{"insecure-bind-address", "address"} {
		if f, ok := inv.Last(name); ok {
			c.Failf(f.Path, ct.Name, "kube-apiserver sets --%s=%s, binding its insecure HTTP port beyond localhost", name, f.Value)
		}
	}
}

func apiserverAnonymous(c *control.Context, ct k8s.Container, inv Invocation) {
	f, ok := inv.Last("anonymous-auth")
	switch {
	case !ok:
		c.Fail(inv.Path, ct.Name, "kube-apiserver does not set --anonymous-auth=false, and it defaults to true: unauthenticated requests are served as system:anonymous")
	case !isFalse(f.Value):
		c.Failf(f.Path, ct.Name, "kube-apiserver sets --anonymous-auth=%s: unauthenticated requests are served as system:anonymous", f.Value)
	}
}

func apiserverAlwaysAllow(c *control.Context, ct k8s.Container, inv Invocation) {
	modes := inv.All("authorization-mode")
	if len(modes) == 0 {
		if inv.Has("authorization-config") {
			return // structured authorization configuration, in a file we cannot see
		}
		c.Fail(inv.Path, ct.Name, "kube-apiserver does not set --authorization-mode, which defaults to AlwaysAllow: every authenticated request is authorized")
		return
	}
	if f, ok := inv.ListItem("authorization-mode", "AlwaysAllow"); ok {
		c.Failf(f.Path, ct.Name, "kube-apiserver authorizes every request: --authorization-mode=%s includes AlwaysAllow", f.Value)
		return
	}
	if _, ok := inv.ListItem("authorization-mode", "RBAC"); !ok {
		f := modes[len(modes)-1]
		c.Failf(f.Path, ct.Name, "kube-apiserver --authorization-mode=%s does not include RBAC", f.Value)
	}
}

func alwaysAdmit(c *control.Context, ct k8s.Container, inv Invocation) {
	for _, name := range []string{"enable-admission-plugins", "admission-control"} {
		if f, ok := inv.ListItem(name, "AlwaysAdmit"); ok {
			c.Failf(f.Path, ct.Name, "kube-apiserver enables the AlwaysAdmit admission plugin (--%s=%s), which admits every request unchecked", name, f.Value)
		}
	}
}

func auditLog(c *control.Context, ct k8s.Container, inv Invocation) {
	p, hasPath := inv.Last("audit-log-path")
	w, hasWebhook := inv.Last("audit-webhook-config-file")
	switch {
	case !hasPath && !hasWebhook:
		c.Fail(inv.Path, ct.Name, "kube-apiserver sets neither --audit-log-path nor --audit-webhook-config-file: no audit trail is kept")
	case !inv.Has("audit-policy-file"):
		path := p.Path
		if !hasPath {
			path = w.Path
		}
		c.Fail(path, ct.Name, "kube-apiserver configures an audit backend but no --audit-policy-file: without a policy no event is logged")
	}
}

func encryptionAtRest(c *control.Context, ct k8s.Container, inv Invocation) {
	if !inv.Has("encryption-provider-config") {
		c.Fail(inv.Path, ct.Name, "kube-apiserver does not set --encryption-provider-config: Secrets are stored unencrypted in etcd")
	}
}

func etcdTLS(c *control.Context, ct k8s.Container, inv Invocation) {
	for _, f := range inv.All("etcd-servers") {
		for _, u := range strings.Split(f.Value, ",") {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(u)), "http://") {
				c.Failf(f.Path, ct.Name, "kube-apiserver talks to etcd over plain HTTP (%s)", strings.TrimSpace(u))
				break
			}
		}
	}
	var missing []string
	for _, name := range []string{"etcd-certfile", "etcd-keyfile", "etcd-cafile"} {
		if !inv.Has(name) {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		c.Failf(inv.Path, ct.Name, "kube-apiserver does not set %s: its connection to etcd is not mutually authenticated with TLS", strings.Join(missing, ", "))
	}
}

func profiling(c *control.Context, ct k8s.Container, inv Invocation) {
	f, ok := inv.Last("profiling")
	switch {
	case !ok:
		c.Failf(inv.Path, ct.Name, "%s does not set --profiling=false, and it defaults to true: pprof endpoints expose internals", inv.Program)
	case !isFalse(f.Value):
		c.Failf(f.Path, ct.Name, "%s sets --profiling=%s: pprof endpoints expose internals", inv.Program, f.Value)
	}
}

func etcdClientAuth(c *control.Context, ct k8s.Container, inv Invocation) {
	if inv.Has("config-file") {
		return // flags and variables are ignored when a config file is given; we cannot see it
	}
	f, ok := inv.Last("client-cert-auth")
	switch {
	case !ok:
		c.Fail(inv.Path, ct.Name, "etcd does not set --client-cert-auth=true, and it defaults to false: any client reaching it can read and write the cluster's state")
	case !isTrue(f.Value):
		c.Failf(f.Path, ct.Name, "etcd sets client-cert-auth to %s: any client reaching it can read and write the cluster's state", f.Value)
	}
	for _, name := range []string{"listen-client-urls", "advertise-client-urls"} {
		for _, fl := range inv.All(name) {
			for _, u := range strings.Split(fl.Value, ",") {
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(u)), "http://") {
					c.Failf(fl.Path, ct.Name, "etcd serves clients over plain HTTP (%s %s)", name, strings.TrimSpace(u))
					break
				}
			}
		}
	}
}

// Kubelet flags take their command-line defaults only without --config;
// with a config file, absent flags take the file's values, whose v1beta1
// defaults are secure (anonymous off, Webhook authorization, read-only port 0).

func kubeletAnonymousFlags(c *control.Context, ct k8s.Container, inv Invocation) {
	f, ok := inv.Last("anonymous-auth")
	switch {
	case !ok && !inv.Has("config"):
		c.Fail(inv.Path, ct.Name, "kubelet has neither --anonymous-auth=false nor a --config file, and the flag defaults to true: anyone reaching port 10250 is served as system:anonymous")
	case ok && !isFalse(f.Value):
		c.Failf(f.Path, ct.Name, "kubelet sets --anonymous-auth=%s: anyone reaching port 10250 is served as system:anonymous", f.Value)
	}
}

func kubeletAnonymousFile(c *control.Context) {
	if v, ok := k8s.Bool(k8s.Map(k8s.Map(c.Obj.Content, "authentication"), "anonymous"), "enabled"); ok && v {
		c.Fail("authentication.anonymous.enabled", "", "KubeletConfiguration enables anonymous authentication: anyone reaching port 10250 is served as system:anonymous")
	}
}

func kubeletAlwaysAllowFlags(c *control.Context, ct k8s.Container, inv Invocation) {
	f, ok := inv.Last("authorization-mode")
	switch {
	case !ok && !inv.Has("config"):
		c.Fail(inv.Path, ct.Name, "kubelet has neither --authorization-mode=Webhook nor a --config file, and the flag defaults to AlwaysAllow: every request to its API is authorized")
	case ok && f.Value == "AlwaysAllow":
		c.Fail(f.Path, ct.Name, "kubelet sets --authorization-mode=AlwaysAllow: every request to its API is authorized")
	}
}

func kubeletAlwaysAllowFile(c *control.Context) {
	if k8s.Str(k8s.Map(c.Obj.Content, "authorization"), "mode") == "AlwaysAllow" {
		c.Fail("authorization.mode", "", "KubeletConfiguration sets authorization.mode AlwaysAllow: every request to its API is authorized")
	}
}

func kubeletReadOnlyFlags(c *control.Context, ct k8s.Container, inv Invocation) {
	f, ok := inv.Last("read-only-port")
	switch {
	case !ok && !inv.Has("config"):
		c.Fail(inv.Path, ct.Name, "kubelet has neither --read-only-port=0 nor a --config file, and the flag defaults to 10255: an unauthenticated read-only API is served")
	case ok && strings.TrimSpace(f.Value) != "0":
		c.Failf(f.Path, ct.Name, "kubelet sets --read-only-port=%s: an unauthenticated read-only API is served", f.Value)
	}
}

func kubeletReadOnlyFile(c *control.Context) {
	if p, ok := k8s.Int(c.Obj.Content, "readOnlyPort"); ok && p != 0 {
		c.Failf("readOnlyPort", "", "KubeletConfiguration sets readOnlyPort %d: an unauthenticated read-only API is served", p)
	}
}
