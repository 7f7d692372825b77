package vap

import (
	"strings"

	"github.com/rampart-dev/rampart/internal/celrules"
)

// translation is the CEL form of a built-in control.
type translation struct {
	// kinds defaults to the pod-bearing kinds.
	kinds []string
	// vars are added after the pod variables.
	vars []celrules.Variable
	// expr is true when the object passes the control.
	expr string
	// message is the policy's message (the control ID is prefixed).
	message string
}

// podVariables give every pod policy the pod spec and metadata of any
// pod-bearing kind, and its containers. dyn() keeps the API server's type
// checker from warning about fields of other kinds' schemas (each branch is
// taken only for its own kinds). Missing specs and lists read as empty.
var podVariables = []celrules.Variable{
	{Name: "podSpec", Expression: podPath("spec")},
	{Name: "podMeta", Expression: podPath("metadata")},
	{Name: "spec", Expression: "type(variables.podSpec) == map ? variables.podSpec : {}"},
	{Name: "containers", Expression: "(variables.spec.?initContainers.orValue([]) + variables.spec.?containers.orValue([]) + variables.spec.?ephemeralContainers.orValue([])).filter(c, type(c) == map)"},
	{Name: "windows", Expression: "variables.spec.?os.?name.orValue('') == 'windows'"},
	{Name: "userNamespace", Expression: "variables.spec.?hostUsers.orValue(true) == false"},
}

// podPath selects the pod template's spec or metadata for every
// pod-bearing kind (null when absent).
func podPath(field string) string {
	return "object.kind == 'Pod' ? dyn(object).?" + field + ".orValue(null) : " +
		"object.kind == 'PodTemplate' ? dyn(object).?template.?" + field + ".orValue(null) : " +
		"object.kind == 'CronJob' ? dyn(object).?spec.?jobTemplate.?spec.?template.?" + field + ".orValue(null) : " +
		"dyn(object).?spec.?template.?" + field + ".orValue(null)"
}

// celList renders strings as a CEL list literal.
func celList(vals ...string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// securityContexts is the pod's securityContext followed by each
// container's (null where absent).
const securityContexts = "([variables.spec.?securityContext.orValue(null)] + variables.containers.map(c, c.?securityContext.orValue(null)))"

// profileOK is true when every pod and container profile at key, where set
// to a map, is of type RuntimeDefault or Localhost.
func profileOK(key string) string {
	return securityContexts + ".all(sc, type(sc) != map || type(sc.?" + key + ".orValue(null)) != map || sc." + key + ".?type.orValue('') in ['RuntimeDefault', 'Localhost'])"
}

// hostNamespace is true when the pod does not set field: true.
func hostNamespace(field string) translation {
	return translation{
		expr:    "variables.spec.?" + field + ".orValue(false) != true",
		message: "the pod shares a host namespace: remove " + field + ": true",
	}
}

// imagesVar lists the container images worth checking, as the Go controls
// do: trimmed, not empty and not an unexpanded template variable.
var imagesVar = celrules.Variable{
	Name:       "images",
	Expression: "variables.containers.map(c, type(c.?image.orValue('')) == string ? c.?image.orValue('').trim() : '').filter(i, i != '' && !i.matches('[$\\\\{\\\\} ]'))",
}

// missingResources is true when every non-ephemeral container sets cpu and
// memory under resources.<field>, or the pod does.
func missingResources(field string) string {
	return "(variables.spec.?initContainers.orValue([]) + variables.spec.?containers.orValue([])).filter(c, type(c) == map).all(c, ['cpu', 'memory'].all(r, r in c.?resources.?" + field + ".orValue({}) || r in variables.spec.?resources.?" + field + ".orValue({})))"
}

// translations are the built-in controls CEL expresses faithfully. Each is
// held to its Go check on every object of examples/ and testdata/corpus/
// (TestTranslationsMatchControls).
var translations = map[string]translation{
	"privileged-container": {
		expr:    "variables.containers.all(c, c.?securityContext.?privileged.orValue(false) != true)",
		message: "a container runs privileged: set securityContext.privileged: false",
	},
	"privilege-escalation": {
		expr:    "variables.windows || variables.containers.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)",
		message: "a container does not set securityContext.allowPrivilegeEscalation: false",
	},
	"host-pid":     hostNamespace("hostPID"),
	"host-ipc":     hostNamespace("hostIPC"),
	"host-network": hostNamespace("hostNetwork"),
	"host-port": {
		expr: "variables.containers.all(c, c.?ports.orValue([]).all(p, type(p) != map || p.?hostPort.orValue(0) == 0) && " +
			"['livenessProbe', 'readinessProbe', 'startupProbe'].all(f, ['httpGet', 'tcpSocket'].all(k, c[?f][?k].?host.orValue('') == '')) && " +
			"['postStart', 'preStop'].all(h, ['httpGet', 'tcpSocket'].all(k, c.?lifecycle[?h][?k].?host.orValue('') == '')))",
		message: "a container binds a hostPort or has a probe or lifecycle hook aimed at a host: remove hostPort and host",
	},
	"host-path-volume": {
		expr:    "variables.spec.?volumes.orValue([]).all(v, type(v) != map || v.?hostPath.orValue(null) == null)",
		message: "the pod mounts a hostPath volume: use a configMap, secret, emptyDir or persistentVolumeClaim instead",
	},
	"run-as-root": {
		expr: "variables.userNamespace ? " +
			"variables.containers.all(c, type(c.?securityContext.?procMount.orValue(null)) != string || c.securityContext.procMount == 'Default') : " +
			"variables.spec.?securityContext.?runAsNonRoot.orValue(true) != false && " +
			"variables.spec.?securityContext.?runAsUser.orValue(1) != 0 && " +
			"variables.containers.all(c, c.?securityContext.?runAsUser.orValue(1) != 0 && " +
			"(type(c.?securityContext.?runAsNonRoot.orValue(null)) == bool ? c.securityContext.runAsNonRoot : variables.spec.?securityContext.?runAsNonRoot.orValue(false) == true))",
		message: "a container may run as root: set securityContext.runAsNonRoot: true and a non-zero runAsUser",
	},
	"dangerous-capabilities": {
		expr:    "variables.containers.all(c, c.?securityContext.?capabilities.?add.orValue([]).all(a, a in " + celList("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT") + "))",
		message: "a container adds a capability beyond the PSS baseline set: remove it from securityContext.capabilities.add",
	},
	"capabilities-not-dropped": {
		expr:    "variables.windows || variables.containers.all(c, c.?securityContext.?capabilities.?drop.orValue([]).exists(d, d == 'ALL') && c.?securityContext.?capabilities.?add.orValue([]).all(a, a == 'NET_BIND_SERVICE'))",
		message: "a container does not drop ALL capabilities (or adds one other than NET_BIND_SERVICE): set securityContext.capabilities.drop: [ALL]",
	},
	"writable-root-filesystem": {
		expr:    "variables.windows || variables.containers.all(c, c.?securityContext.?readOnlyRootFilesystem.orValue(false) == true)",
		message: "a container can write to its root filesystem: set securityContext.readOnlyRootFilesystem: true",
	},
	"seccomp-unconfined": {
		expr:    profileOK("seccompProfile"),
		message: "the pod or a container sets a seccomp profile other than RuntimeDefault or Localhost",
	},
	"seccomp-profile-missing": {
		expr: "variables.windows || " +
			"(type(variables.spec.?securityContext.?seccompProfile.orValue(null)) == map && variables.spec.securityContext.seccompProfile.?type.orValue('') in ['RuntimeDefault', 'Localhost']) || " +
			"variables.containers.all(c, type(c.?securityContext.?seccompProfile.orValue(null)) == map)",
		message: "a container has no seccomp profile: set securityContext.seccompProfile.type: RuntimeDefault on the pod",
	},
	"apparmor-unconfined": {
		vars: []celrules.Variable{{Name: "podAnnotations", Expression: "type(variables.podMeta) == map && type(variables.podMeta.?annotations.orValue(null)) == map ? variables.podMeta.annotations : {}"}},
		expr: profileOK("appArmorProfile") + " && variables.podAnnotations.all(k, !k.startsWith('container.apparmor.security.beta.kubernetes.io/') || " +
			"type(variables.podAnnotations[k]) != string || variables.podAnnotations[k] in ['', 'runtime/default'] || variables.podAnnotations[k].startsWith('localhost/'))",
		message: "the pod or a container sets an AppArmor profile other than RuntimeDefault or Localhost",
	},
	"selinux-custom-options": {
		expr: securityContexts + ".all(sc, type(sc) != map || type(sc.?seLinuxOptions.orValue(null)) != map || " +
			"(sc.seLinuxOptions.?type.orValue('') in " + celList("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t") +
			" && sc.seLinuxOptions.?user.orValue('') == '' && sc.seLinuxOptions.?role.orValue('') == ''))",
		message: "the pod or a container sets custom SELinux options: PSS baseline allows only the container_* types and no user or role",
	},
	"unmasked-proc-mount": {
		expr:    "variables.userNamespace || variables.containers.all(c, type(c.?securityContext.?procMount.orValue(null)) != string || c.securityContext.procMount == 'Default')",
		message: "a container sets procMount other than Default: remove securityContext.procMount",
	},
	"unsafe-sysctls": {
		expr: "variables.spec.?securityContext.?sysctls.orValue([]).all(s, type(s) == map && s.?name.orValue('') in " + celList(
			"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
			"net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
			"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
			"net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat") + ")",
		message: "the pod sets a sysctl outside the safe set",
	},
	"windows-host-process": {
		expr:    securityContexts + ".all(sc, type(sc) != map || sc.?windowsOptions.?hostProcess.orValue(false) != true)",
		message: "the pod or a container runs as a Windows HostProcess",
	},
	"restricted-volume-types": {
		expr: "variables.spec.?volumes.orValue([]).all(v, type(v) == map && " + celList("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret") +
			".exists(k, v[?k].orValue(null) != null))",
		message: "a volume is of a type outside the PSS restricted set",
	},
	"image-tag-latest": {
		vars:    []celrules.Variable{imagesVar},
		expr:    "variables.images.all(i, i.matches('@.') || (i.matches(':[^/:@]+@?$') && !i.matches(':latest@?$')))",
		message: "a container image uses the latest tag or no tag: pin a version tag or a digest",
	},
	"image-not-pinned": {
		vars:    []celrules.Variable{imagesVar},
		expr:    "variables.images.all(i, i.matches('^[^@]*@[^:]+:[0-9a-fA-F]{32,}$'))",
		message: "a container image is not pinned to a digest (@sha256:...)",
	},
	"missing-resource-limits": {
		expr:    missingResources("limits"),
		message: "a container sets no cpu or memory limit: set resources.limits",
	},
	"missing-resource-requests": {
		expr:    missingResources("requests"),
		message: "a container sets no cpu or memory request: set resources.requests",
	},
	"missing-probes": {
		kinds: []string{"Pod", "PodTemplate", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"},
		expr: "(object.kind in ['Pod', 'PodTemplate'] && (type(variables.podSpec) != map || variables.spec.?restartPolicy.orValue('') in ['Never', 'OnFailure'])) || " +
			"(variables.spec.?initContainers.orValue([]).filter(c, type(c) == map && c.?restartPolicy.orValue('') == 'Always') + variables.spec.?containers.orValue([]).filter(c, type(c) == map))" +
			".all(c, type(c.?livenessProbe.orValue(null)) == map && type(c.?readinessProbe.orValue(null)) == map)",
		message: "a long-running container has no liveness or readiness probe",
	},
	"service-account-token-automount": {
		expr:    "type(variables.podSpec) != map || variables.spec.?automountServiceAccountToken.orValue(true) == false",
		message: "the pod mounts a service account API token: set automountServiceAccountToken: false",
	},
	"default-service-account": {
		expr: "type(variables.podSpec) != map || (type(variables.spec.?serviceAccountName.orValue(null)) == string && variables.spec.serviceAccountName != '' ? " +
			"variables.spec.serviceAccountName != 'default' : " +
			"type(variables.spec.?serviceAccount.orValue(null)) == string && !(variables.spec.serviceAccount in ['', 'default']))",
		message: "the pod runs as the namespace's default ServiceAccount: set serviceAccountName",
	},
}

// skipReasons say why a per-object built-in control has no translation.
// Controls evaluated across objects or by audit commands are skipped for
// that reason, given by Builtins.
var skipReasons = map[string]string{
	"container-runtime-socket": "needs path normalisation (path.Clean) of hostPath paths, which CEL lacks; host-path-volume denies every hostPath",
	"untrusted-registry":       "depends on the allowedRegistries setting; a policy would need params, which the export does not write",
	"default-namespace":        "would match every kind in the default namespace, including the API server's own kubernetes Service and Endpoints",
	"hardcoded-secret-in-env":  "recognises credentials by name patterns and value entropy, not expressible faithfully in CEL",
}
