// Package pss holds the pod security controls: the checks of the Pod
// Security Standards (baseline and restricted) over every container,
// initContainer and ephemeralContainer of every pod-bearing kind, plus the
// related hardening checks (runtime sockets, read-only root filesystem).
//
// The PSS controls mirror k8s.io/pod-security-admission at its latest
// version exactly: the pss-baseline controls together fail on a pod spec if
// and only if the admission controller rejects it at the baseline level, and
// likewise for pss-restricted. oracle_test.go holds that to account.
package pss

import (
	_ "embed"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

// podControl builds a control over pod specs.
func podControl(id string, check func(c *control.Context, ps k8s.PodSpec)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    k8s.PodKinds,
		Check: func(c *control.Context) {
			if ps, ok := k8s.PodSpecOf(c.Obj); ok {
				check(c, ps)
			}
		},
	}
}

func logic() []*control.Control {
	return []*control.Control{
		podControl("privileged-container", privileged),
		podControl("privilege-escalation", privilegeEscalation),
		podControl("host-pid", hostNamespace("hostPID", "the host's process namespace: it can see and signal every process on the node")),
		podControl("host-ipc", hostNamespace("hostIPC", "the host's IPC namespace: it can read and write the shared memory of every process on the node")),
		podControl("host-network", hostNamespace("hostNetwork", "the host's network namespace: it can bind node ports, sniff node traffic and reach node-local services")),
		podControl("host-port", hostPort),
		podControl("host-path-volume", hostPathVolume),
		podControl("container-runtime-socket", runtimeSocket),
		podControl("run-as-root", runAsRoot),
		podControl("dangerous-capabilities", dangerousCapabilities),
		podControl("capabilities-not-dropped", capabilitiesNotDropped),
		podControl("writable-root-filesystem", writableRootFilesystem),
		podControl("seccomp-unconfined", seccompUnconfined),
		podControl("seccomp-profile-missing", seccompProfileMissing),
		podControl("apparmor-unconfined", apparmorUnconfined),
		podControl("selinux-custom-options", selinuxCustomOptions),
		podControl("unmasked-proc-mount", unmaskedProcMount),
		podControl("unsafe-sysctls", unsafeSysctls),
		podControl("windows-host-process", windowsHostProcess),
		podControl("restricted-volume-types", restrictedVolumeTypes),
	}
}

// eachContainer calls fn for every initContainer, container and
// ephemeralContainer, in that order, without allocating. The container's
// path is built only when asked for, through containerPath.
func eachContainer(ps k8s.PodSpec, fn func(field string, i int, ct map[string]any)) {
	for _, f := range k8s.ContainerFields {
		for i, item := range k8s.Slice(ps.Spec, f) {
			if ct, ok := item.(map[string]any); ok {
				fn(f, i, ct)
			}
		}
	}
}

// containerPath is the field path of container i of field.
func containerPath(ps k8s.PodSpec, field string, i int) string {
	return k8s.Index(ps.Path+"."+field, i)
}

// isWindows reports whether the pod declares spec.os.name: windows, which
// exempts it from the Linux-only restricted checks.
func isWindows(ps k8s.PodSpec) bool {
	return k8s.Str(k8s.Map(ps.Spec, "os"), "name") == "windows"
}

// inUserNamespace reports whether the pod sets hostUsers: false, which
// relaxes the root and proc mount checks.
func inUserNamespace(ps k8s.PodSpec) bool {
	v, ok := k8s.Bool(ps.Spec, "hostUsers")
	return ok && !v
}

func privileged(c *control.Context, ps k8s.PodSpec) {
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if v, _ := k8s.Bool(k8s.Map(ct, "securityContext"), "privileged"); v {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext.privileged", name, "container %q runs privileged: it has every capability and full access to the host's devices", name)
		}
	})
}

func privilegeEscalation(c *control.Context, ps k8s.PodSpec) {
	if isWindows(ps) {
		return
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		v, ok := k8s.Bool(k8s.Map(ct, "securityContext"), "allowPrivilegeEscalation")
		if ok && !v {
			return
		}
		name := k8s.Str(ct, "name")
		p := containerPath(ps, field, i) + ".securityContext.allowPrivilegeEscalation"
		if ok {
			c.Failf(p, name, "container %q sets allowPrivilegeEscalation: true: setuid binaries can gain privileges its process does not have", name)
			return
		}
		c.Failf(p, name, "container %q does not set allowPrivilegeEscalation: false, so setuid binaries can gain privileges (unset means allowed)", name)
	})
}

func hostNamespace(field, what string) func(c *control.Context, ps k8s.PodSpec) {
	return func(c *control.Context, ps k8s.PodSpec) {
		if v, _ := k8s.Bool(ps.Spec, field); v {
			c.Failf(ps.Path+"."+field, "", "the pod sets %s: true and shares %s", field, what)
		}
	}
}

// probeFields are the container fields holding probes.
var probeFields = [...]string{"livenessProbe", "readinessProbe", "startupProbe"}

// hostPort flags hostPorts and, as PSS baseline does since v1.34, probes and
// lifecycle hooks aimed at an explicit host: both reach past the pod's own
// network identity into the node's.
func hostPort(c *control.Context, ps k8s.PodSpec) {
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		for j, p := range k8s.Slice(ct, "ports") {
			port, _ := p.(map[string]any)
			if hp, ok := k8s.Int(port, "hostPort"); ok && hp != 0 {
				name := k8s.Str(ct, "name")
				c.Failf(k8s.Index(containerPath(ps, field, i)+".ports", j)+".hostPort", name, "container %q binds hostPort %d on the node: it bypasses NetworkPolicy and pins the pod to nodes with that port free", name, hp)
			}
		}
		for _, pf := range probeFields {
			hostTarget(c, ps, field, i, ct, k8s.Map(ct, pf), pf)
		}
		lc := k8s.Map(ct, "lifecycle")
		for _, hook := range [...]string{"postStart", "preStop"} {
			hostTarget(c, ps, field, i, ct, k8s.Map(lc, hook), "lifecycle."+hook)
		}
	})
}

// hostTarget flags a probe or lifecycle handler whose httpGet or tcpSocket
// names a host: the kubelet then connects from the node to that host.
func hostTarget(c *control.Context, ps k8s.PodSpec, field string, i int, ct, handler map[string]any, at string) {
	if handler == nil {
		return
	}
	for _, kind := range [...]string{"httpGet", "tcpSocket"} {
		if host := k8s.Str(k8s.Map(handler, kind), "host"); host != "" {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+"."+at+"."+kind+".host", name, "container %q has a %s %s aimed at host %q: the kubelet connects there from the node, which can reach node-local and cloud metadata endpoints", name, at, kind, host)
		}
	}
}

func hostPathVolume(c *control.Context, ps k8s.PodSpec) {
	for i, item := range k8s.Slice(ps.Spec, "volumes") {
		v, _ := item.(map[string]any)
		if v == nil || v["hostPath"] == nil {
			continue
		}
		p := k8s.Str(k8s.Map(v, "hostPath"), "path")
		c.Failf(k8s.Index(ps.Path+".volumes", i)+".hostPath", "", "volume %q mounts host path %q from the node's filesystem", k8s.Str(v, "name"), p)
	}
}

// runtimeSockets are the container runtime API sockets; a hostPath equal to
// one of them, or to a directory above one, hands the pod the runtime.
var runtimeSockets = [...]string{
	"/var/run/docker.sock",
	"/run/docker.sock",
	"/var/run/containerd/containerd.sock",
	"/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock",
	"/run/crio/crio.sock",
	"/var/run/cri-dockerd.sock",
	"/run/cri-dockerd.sock",
	"/run/k3s/containerd/containerd.sock",
	"/var/run/podman/podman.sock",
	"/run/podman/podman.sock",
}

// exposesRuntimeSocket returns the runtime socket a host path gives access
// to, or "".
func exposesRuntimeSocket(p string) string {
	if p == "" {
		return ""
	}
	p = path.Clean(p)
	for _, s := range runtimeSockets {
		if p == s || p == "/" || strings.HasPrefix(s, p+"/") {
			return s
		}
	}
	return ""
}

func runtimeSocket(c *control.Context, ps k8s.PodSpec) {
	for i, item := range k8s.Slice(ps.Spec, "volumes") {
		v, _ := item.(map[string]any)
		p := k8s.Str(k8s.Map(v, "hostPath"), "path")
		if s := exposesRuntimeSocket(p); s != "" {
			c.Failf(k8s.Index(ps.Path+".volumes", i)+".hostPath.path", "", "volume %q mounts host path %q, which exposes the container runtime socket %s: whoever talks to it can start privileged containers on the node", k8s.Str(v, "name"), p, s)
		}
	}
}

func runAsRoot(c *control.Context, ps k8s.PodSpec) {
	if inUserNamespace(ps) {
		// Root in a user namespace maps to an unprivileged host user, so PSS
		// relaxes runAsNonRoot and runAsUser; it then still forbids an
		// unmasked /proc, which would expose the host's kernel interfaces to
		// that root. The baseline proc mount check is relaxed the same way,
		// so the restricted level catches it here.
		eachContainer(ps, func(field string, i int, ct map[string]any) {
			if pm, ok := k8s.Map(ct, "securityContext")["procMount"].(string); ok && pm != "Default" {
				name := k8s.Str(ct, "name")
				c.Failf(containerPath(ps, field, i)+".securityContext.procMount", name, "container %q runs as root in a user namespace with procMount %q: the unmasked /proc undoes the namespace's protection", name, pm)
			}
		})
		return
	}
	podSC := ps.SecurityContext()
	podNonRoot, podSet := k8s.Bool(podSC, "runAsNonRoot")
	if podSet && !podNonRoot {
		c.Fail(ps.Path+".securityContext.runAsNonRoot", "", "the pod sets runAsNonRoot: false")
	}
	if u, ok := k8s.Int(podSC, "runAsUser"); ok && u == 0 {
		c.Fail(ps.Path+".securityContext.runAsUser", "", "the pod sets runAsUser: 0 (root)")
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		sc := k8s.Map(ct, "securityContext")
		name := k8s.Str(ct, "name")
		if u, ok := k8s.Int(sc, "runAsUser"); ok && u == 0 {
			c.Failf(containerPath(ps, field, i)+".securityContext.runAsUser", name, "container %q sets runAsUser: 0 and runs as root, whatever the pod's runAsNonRoot says", name)
		}
		v, ok := k8s.Bool(sc, "runAsNonRoot")
		switch {
		case ok && !v:
			c.Failf(containerPath(ps, field, i)+".securityContext.runAsNonRoot", name, "container %q sets runAsNonRoot: false", name)
		case !ok && (!podSet || !podNonRoot):
			c.Failf(containerPath(ps, field, i)+".securityContext", name, "container %q may run as root: neither it nor the pod sets runAsNonRoot: true", name)
		}
	})
}

// baselineCapabilities are the capabilities PSS baseline lets containers add.
var baselineCapabilities = map[string]bool{
	"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true, "FSETID": true,
	"KILL": true, "MKNOD": true, "NET_BIND_SERVICE": true, "SETFCAP": true, "SETGID": true,
	"SETPCAP": true, "SETUID": true, "SYS_CHROOT": true,
}

func dangerousCapabilities(c *control.Context, ps k8s.PodSpec) {
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		caps := k8s.Map(k8s.Map(ct, "securityContext"), "capabilities")
		for j, a := range k8s.Slice(caps, "add") {
			capName, _ := a.(string)
			if baselineCapabilities[capName] {
				continue
			}
			name := k8s.Str(ct, "name")
			c.Failf(k8s.Index(containerPath(ps, field, i)+".securityContext.capabilities.add", j), name, "container %q adds capability %q, beyond the default set PSS baseline allows", name, capName)
		}
	})
}

func capabilitiesNotDropped(c *control.Context, ps k8s.PodSpec) {
	if isWindows(ps) {
		return
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		caps := k8s.Map(k8s.Map(ct, "securityContext"), "capabilities")
		name := k8s.Str(ct, "name")
		droppedAll := false
		for _, d := range k8s.Slice(caps, "drop") {
			if s, _ := d.(string); s == "ALL" {
				droppedAll = true
				break
			}
		}
		if !droppedAll {
			c.Failf(containerPath(ps, field, i)+".securityContext.capabilities.drop", name, "container %q does not drop ALL capabilities", name)
		}
		for j, a := range k8s.Slice(caps, "add") {
			if s, _ := a.(string); s != "NET_BIND_SERVICE" {
				c.Failf(k8s.Index(containerPath(ps, field, i)+".securityContext.capabilities.add", j), name, "container %q adds capability %q; PSS restricted allows adding only NET_BIND_SERVICE", name, s)
			}
		}
	})
}

func writableRootFilesystem(c *control.Context, ps k8s.PodSpec) {
	if isWindows(ps) {
		return
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if v, _ := k8s.Bool(k8s.Map(ct, "securityContext"), "readOnlyRootFilesystem"); !v {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext.readOnlyRootFilesystem", name, "container %q can write to its root filesystem: an intruder can drop tools and modify binaries", name)
		}
	})
}

// validProfileType reports whether a seccomp or AppArmor profile type
// confines the container.
func validProfileType(t string) bool { return t == "RuntimeDefault" || t == "Localhost" }

// badProfile returns the profile map at key of sc when it is set to a type
// other than RuntimeDefault or Localhost.
func badProfile(sc map[string]any, key string) (map[string]any, bool) {
	p := k8s.Map(sc, key)
	if p == nil {
		return nil, false
	}
	return p, !validProfileType(k8s.Str(p, "type"))
}

func seccompUnconfined(c *control.Context, ps k8s.PodSpec) {
	profileCheck(c, ps, "seccompProfile", "seccomp")
}

func apparmorUnconfined(c *control.Context, ps k8s.PodSpec) {
	profileCheck(c, ps, "appArmorProfile", "AppArmor")
	annotations := k8s.Map(ps.Meta, "annotations")
	var bad []string
	for k, v := range annotations {
		if !strings.HasPrefix(k, apparmorAnnotationPrefix) {
			continue
		}
		if s, _ := v.(string); !allowedAppArmorAnnotation(s) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return
	}
	sort.Strings(bad)
	for _, k := range bad {
		container := k[len(apparmorAnnotationPrefix):]
		v, _ := annotations[k].(string)
		c.Failf(k8s.Key(ps.MetaPath+".annotations", k), container, "annotation %s sets AppArmor profile %q for container %q: only runtime/default and localhost/* confine it", k, v, container)
	}
}

const apparmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// allowedAppArmorAnnotation mirrors the legacy annotation values PSS baseline allows.
func allowedAppArmorAnnotation(v string) bool {
	return v == "" || v == "runtime/default" || strings.HasPrefix(v, "localhost/")
}

// profileCheck flags pod- and container-level profiles (seccompProfile or
// appArmorProfile) whose type is set to anything but RuntimeDefault or
// Localhost, such as Unconfined.
func profileCheck(c *control.Context, ps k8s.PodSpec, key, what string) {
	if p, bad := badProfile(ps.SecurityContext(), key); bad {
		c.Failf(ps.Path+".securityContext."+key+".type", "", "the pod sets %s profile type %q: only RuntimeDefault and Localhost confine it", what, k8s.Str(p, "type"))
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if p, bad := badProfile(k8s.Map(ct, "securityContext"), key); bad {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext."+key+".type", name, "container %q sets %s profile type %q: only RuntimeDefault and Localhost confine it", name, what, k8s.Str(p, "type"))
		}
	})
}

func seccompProfileMissing(c *control.Context, ps k8s.PodSpec) {
	if isWindows(ps) {
		return
	}
	if p := k8s.Map(ps.SecurityContext(), "seccompProfile"); p != nil && validProfileType(k8s.Str(p, "type")) {
		return
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if k8s.Map(k8s.Map(ct, "securityContext"), "seccompProfile") != nil {
			return
		}
		name := k8s.Str(ct, "name")
		c.Failf(containerPath(ps, field, i)+".securityContext", name, "container %q has no RuntimeDefault or Localhost seccomp profile, set on it or on the pod: it may run without syscall filtering (legacy seccomp annotations are ignored)", name)
	})
}

// selinuxTypes are the SELinux types PSS baseline allows.
var selinuxTypes = map[string]bool{"": true, "container_t": true, "container_init_t": true, "container_kvm_t": true, "container_engine_t": true}

// badSELinux describes what is wrong with seLinuxOptions, or returns "".
func badSELinux(o map[string]any) string {
	switch {
	case o == nil:
		return ""
	case !selinuxTypes[k8s.Str(o, "type")]:
		return "type " + strconv.Quote(k8s.Str(o, "type"))
	case k8s.Str(o, "user") != "":
		return "a custom user"
	case k8s.Str(o, "role") != "":
		return "a custom role"
	}
	return ""
}

func selinuxCustomOptions(c *control.Context, ps k8s.PodSpec) {
	if why := badSELinux(k8s.Map(ps.SecurityContext(), "seLinuxOptions")); why != "" {
		c.Failf(ps.Path+".securityContext.seLinuxOptions", "", "the pod sets SELinux %s: PSS baseline allows only the container_* types and no user or role", why)
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if why := badSELinux(k8s.Map(k8s.Map(ct, "securityContext"), "seLinuxOptions")); why != "" {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext.seLinuxOptions", name, "container %q sets SELinux %s: PSS baseline allows only the container_* types and no user or role", name, why)
		}
	})
}

func unmaskedProcMount(c *control.Context, ps k8s.PodSpec) {
	if inUserNamespace(ps) {
		return // relaxed at baseline; run-as-root covers it for restricted
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if pm, ok := k8s.Map(ct, "securityContext")["procMount"].(string); ok && pm != "Default" {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext.procMount", name, "container %q sets procMount %q: /proc is not masked, exposing host kernel interfaces", name, pm)
		}
	})
}

// safeSysctls are the namespaced sysctls PSS baseline allows (latest list).
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_rmem":                   true,
	"net.ipv4.tcp_wmem":                   true,
	"net.ipv4.tcp_slow_start_after_idle":  true,
	"net.ipv4.tcp_notsent_lowat":          true,
}

func unsafeSysctls(c *control.Context, ps k8s.PodSpec) {
	for i, item := range k8s.Slice(ps.SecurityContext(), "sysctls") {
		s, _ := item.(map[string]any)
		if name := k8s.Str(s, "name"); !safeSysctls[name] {
			c.Failf(k8s.Index(ps.Path+".securityContext.sysctls", i)+".name", "", "the pod sets sysctl %q, outside the safe set: it can affect the whole node or weaken isolation", name)
		}
	}
}

func windowsHostProcess(c *control.Context, ps k8s.PodSpec) {
	if v, _ := k8s.Bool(k8s.Map(ps.SecurityContext(), "windowsOptions"), "hostProcess"); v {
		c.Fail(ps.Path+".securityContext.windowsOptions.hostProcess", "", "the pod runs as a Windows HostProcess: its containers run directly on the node with host privileges")
	}
	eachContainer(ps, func(field string, i int, ct map[string]any) {
		if v, _ := k8s.Bool(k8s.Map(k8s.Map(ct, "securityContext"), "windowsOptions"), "hostProcess"); v {
			name := k8s.Str(ct, "name")
			c.Failf(containerPath(ps, field, i)+".securityContext.windowsOptions.hostProcess", name, "container %q runs as a Windows HostProcess, directly on the node with host privileges", name)
		}
	})
}

// restrictedVolumeSources are the volume types PSS restricted allows.
var restrictedVolumeSources = [...]string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"}

func restrictedVolumeTypes(c *control.Context, ps k8s.PodSpec) {
	for i, item := range k8s.Slice(ps.Spec, "volumes") {
		v, _ := item.(map[string]any)
		if allowedVolume(v) {
			continue
		}
		kind := "unknown"
		for k, val := range v {
			if k != "name" && val != nil && (kind == "unknown" || k < kind) {
				kind = k
			}
		}
		c.Failf(k8s.Index(ps.Path+".volumes", i), "", "volume %q is of type %s; PSS restricted allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret", k8s.Str(v, "name"), kind)
	}
}

func allowedVolume(v map[string]any) bool {
	for _, k := range restrictedVolumeSources {
		if v[k] != nil {
			return true
		}
	}
	return false
}
