package pss

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
)

// pod wraps a pod spec body (indented by two spaces) in a Pod.
func pod(body string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n" + body
}

// deployment wraps an unindented pod spec body in a Deployment.
func deployment(body string) string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata:\n      labels: {app: d}\n    spec:\n")
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// runControl runs the control id on the single object in doc and returns
// "path|container" for every violation.
func runControl(t *testing.T, id, doc string) []string {
	t.Helper()
	ctl := controltest.ByID(t, Controls, id)
	obj := controltest.DecodeOne(t, doc)
	if !ctl.Applies(obj) {
		t.Fatalf("%s does not apply to %s", id, obj.Kind())
	}
	var out []string
	for _, v := range controltest.Run(t, ctl, obj) {
		if v.Message == "" {
			t.Errorf("violation without message at %s", v.Path)
		}
		if obj.Line(v.Path) <= 1 {
			t.Errorf("path %s does not resolve to a line", v.Path)
		}
		out = append(out, v.Path+"|"+v.Container)
	}
	return out
}

// hardened is a container meeting every check of this package.
const hardened = `  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities: {drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
`

func TestControls(t *testing.T) {
	tests := []struct {
		name    string
		control string
		doc     string
		want    []string
	}{
		{"privileged init container in deployment", "privileged-container", deployment("initContainers:\n- name: init\n  image: busybox\n  securityContext: {privileged: true}\ncontainers:\n- name: app\n  image: nginx\n"), []string{"spec.template.spec.initContainers[0].securityContext.privileged|init"}},
		{"privileged false", "privileged-container", pod("  containers:\n  - name: app\n    image: nginx\n    securityContext: {privileged: false}\n"), nil},

		{"escalation unset and true", "privilege-escalation", pod("  containers:\n  - name: a\n    image: x\n  - name: b\n    image: x\n    securityContext: {allowPrivilegeEscalation: true}\n"), []string{"spec.containers[0].securityContext.allowPrivilegeEscalation|a", "spec.containers[1].securityContext.allowPrivilegeEscalation|b"}},
		{"escalation false", "privilege-escalation", pod("  containers:\n" + hardened), nil},
		{"escalation on ephemeral container", "privilege-escalation", pod("  containers:\n" + hardened + "  ephemeralContainers:\n  - name: dbg\n    image: busybox\n"), []string{"spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation|dbg"}},
		{"escalation exempt on windows", "privilege-escalation", pod("  os: {name: windows}\n  containers:\n  - name: a\n    image: x\n"), nil},

		{"hostPID", "host-pid", pod("  hostPID: true\n  containers:\n" + hardened), []string{"spec.hostPID|"}},
		{"hostPID false", "host-pid", pod("  hostPID: false\n  containers:\n" + hardened), nil},
		{"hostIPC", "host-ipc", deployment("hostIPC: true\ncontainers:\n- name: a\n  image: x\n"), []string{"spec.template.spec.hostIPC|"}},
		{"hostIPC unset", "host-ipc", pod("  containers:\n" + hardened), nil},
		{"hostNetwork", "host-network", pod("  hostNetwork: true\n  containers:\n" + hardened), []string{"spec.hostNetwork|"}},
		{"hostNetwork false", "host-network", pod("  hostNetwork: false\n  containers:\n" + hardened), nil},

		{"hostPort and probe host", "host-port", pod("  containers:\n  - name: a\n    image: x\n    ports:\n    - {containerPort: 80}\n    - {containerPort: 443, hostPort: 443}\n    readinessProbe:\n      tcpSocket: {host: 10.0.0.1, port: 80}\n"), []string{"spec.containers[0].ports[1].hostPort|a", "spec.containers[0].readinessProbe.tcpSocket.host|a"}},
		{"lifecycle hook host", "host-port", pod("  containers:\n  - name: a\n    image: x\n    lifecycle:\n      postStart:\n        httpGet: {host: example.com, port: 80}\n"), []string{"spec.containers[0].lifecycle.postStart.httpGet.host|a"}},
		{"containerPort only and hostPort 0", "host-port", pod("  containers:\n  - name: a\n    image: x\n    ports:\n    - {containerPort: 80, hostPort: 0}\n    livenessProbe:\n      httpGet: {path: /, port: 80}\n"), nil},

		{"hostPath volume", "host-path-volume", pod("  containers:\n" + hardened + "  volumes:\n  - name: root\n    hostPath: {path: /}\n  - name: tmp\n    emptyDir: {}\n"), []string{"spec.volumes[0].hostPath|"}},
		{"no hostPath", "host-path-volume", pod("  containers:\n" + hardened + "  volumes:\n  - name: tmp\n    emptyDir: {}\n"), nil},

		{"docker socket and /var/run", "container-runtime-socket", pod("  containers:\n" + hardened + "  volumes:\n  - name: sock\n    hostPath: {path: /var/run/docker.sock}\n  - name: run\n    hostPath: {path: /var/run/}\n  - name: logs\n    hostPath: {path: /var/log}\n"), []string{"spec.volumes[0].hostPath.path|", "spec.volumes[1].hostPath.path|"}},
		{"containerd dir and root", "container-runtime-socket", pod("  containers:\n" + hardened + "  volumes:\n  - name: c\n    hostPath: {path: /run/containerd}\n  - name: r\n    hostPath: {path: /}\n"), []string{"spec.volumes[0].hostPath.path|", "spec.volumes[1].hostPath.path|"}},
		{"crio socket", "container-runtime-socket", pod("  containers:\n" + hardened + "  volumes:\n  - name: c\n    hostPath: {path: /var/run/crio/crio.sock, type: Socket}\n"), []string{"spec.volumes[0].hostPath.path|"}},
		{"unrelated host paths", "container-runtime-socket", pod("  containers:\n" + hardened + "  volumes:\n  - name: l\n    hostPath: {path: /var/log}\n  - name: r\n    hostPath: {path: /var/running}\n"), nil},

		{"pod runAsNonRoot true, container runAsUser 0", "run-as-root", pod("  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: a\n    image: x\n    securityContext: {runAsUser: 0}\n  - name: b\n    image: x\n"), []string{"spec.containers[0].securityContext.runAsUser|a"}},
		{"nothing set", "run-as-root", pod("  containers:\n  - name: a\n    image: x\n"), []string{"spec.containers[0].securityContext|a"}},
		{"pod runAsNonRoot false overridden per container", "run-as-root", pod("  securityContext: {runAsNonRoot: false, runAsUser: 0}\n  containers:\n  - name: a\n    image: x\n    securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"), []string{"spec.securityContext.runAsNonRoot|", "spec.securityContext.runAsUser|"}},
		{"runAsUser 1000 alone is not enough", "run-as-root", pod("  securityContext: {runAsUser: 1000}\n  containers:\n  - name: a\n    image: x\n"), []string{"spec.containers[0].securityContext|a"}},
		{"pod runAsNonRoot true", "run-as-root", pod("  securityContext: {runAsNonRoot: true}\n  initContainers:\n  - name: i\n    image: x\n  containers:\n  - name: a\n    image: x\n"), nil},
		{"user namespace relaxes root", "run-as-root", pod("  hostUsers: false\n  containers:\n  - name: a\n    image: x\n    securityContext: {runAsUser: 0}\n"), nil},
		{"user namespace with unmasked proc", "run-as-root", pod("  hostUsers: false\n  containers:\n  - name: a\n    image: x\n    securityContext: {procMount: Unmasked}\n"), []string{"spec.containers[0].securityContext.procMount|a"}},

		{"SYS_ADMIN and NET_RAW", "dangerous-capabilities", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      capabilities: {add: [CHOWN, SYS_ADMIN, NET_RAW]}\n"), []string{"spec.containers[0].securityContext.capabilities.add[1]|a", "spec.containers[0].securityContext.capabilities.add[2]|a"}},
		{"ALL", "dangerous-capabilities", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      capabilities: {add: [ALL]}\n"), []string{"spec.containers[0].securityContext.capabilities.add[0]|a"}},
		{"baseline capabilities only", "dangerous-capabilities", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      capabilities: {add: [NET_BIND_SERVICE, CHOWN, KILL]}\n"), nil},

		{"no drop and forbidden add", "capabilities-not-dropped", pod("  containers:\n  - name: a\n    image: x\n  - name: b\n    image: x\n    securityContext:\n      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CHOWN]}\n"), []string{"spec.containers[0].securityContext.capabilities.drop|a", "spec.containers[1].securityContext.capabilities.add[1]|b"}},
		{"drop ALL add NET_BIND_SERVICE", "capabilities-not-dropped", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}\n"), nil},
		{"drop some only", "capabilities-not-dropped", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      capabilities: {drop: [NET_RAW]}\n"), []string{"spec.containers[0].securityContext.capabilities.drop|a"}},

		{"writable root", "writable-root-filesystem", pod("  containers:\n  - name: a\n    image: x\n    securityContext: {readOnlyRootFilesystem: false}\n  - name: b\n    image: x\n"), []string{"spec.containers[0].securityContext.readOnlyRootFilesystem|a", "spec.containers[1].securityContext.readOnlyRootFilesystem|b"}},
		{"read-only root", "writable-root-filesystem", pod("  containers:\n" + hardened), nil},

		{"unconfined at pod and container", "seccomp-unconfined", pod("  securityContext:\n    seccompProfile: {type: Unconfined}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      seccompProfile: {type: Unconfined}\n"), []string{"spec.securityContext.seccompProfile.type|", "spec.containers[0].securityContext.seccompProfile.type|a"}},
		{"runtime default and localhost", "seccomp-unconfined", pod("  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      seccompProfile: {type: Localhost, localhostProfile: p.json}\n"), nil},

		{"missing on one container", "seccomp-profile-missing", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      seccompProfile: {type: RuntimeDefault}\n  - name: b\n    image: x\n"), []string{"spec.containers[1].securityContext|b"}},
		{"pod level profile covers all", "seccomp-profile-missing", pod("  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: a\n    image: x\n"), nil},
		{"legacy annotation does not count", "seccomp-profile-missing", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\nspec:\n  containers:\n  - name: a\n    image: x\n", []string{"spec.containers[0].securityContext|a"}},
		{"windows exempt", "seccomp-profile-missing", pod("  os: {name: windows}\n  containers:\n  - name: a\n    image: x\n"), nil},

		{"annotation unconfined", "apparmor-unconfined", strings.Replace(deployment("containers:\n- name: a\n  image: x\n"), "      labels: {app: d}\n", "      labels: {app: d}\n      annotations:\n        container.apparmor.security.beta.kubernetes.io/a: unconfined\n", 1), []string{`spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/a"]|a`}},
		{"field unconfined", "apparmor-unconfined", pod("  containers:\n  - name: a\n    image: x\n    securityContext:\n      appArmorProfile: {type: Unconfined}\n"), []string{"spec.containers[0].securityContext.appArmorProfile.type|a"}},
		{"runtime default annotation and localhost field", "apparmor-unconfined", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/a: runtime/default\nspec:\n  securityContext:\n    appArmorProfile: {type: Localhost, localhostProfile: k8s-x}\n  containers:\n  - name: a\n    image: x\n", nil},

		{"spc_t and custom user", "selinux-custom-options", pod("  securityContext:\n    seLinuxOptions: {type: spc_t}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      seLinuxOptions: {user: system_u}\n"), []string{"spec.securityContext.seLinuxOptions|", "spec.containers[0].securityContext.seLinuxOptions|a"}},
		{"level only and container_t", "selinux-custom-options", pod("  securityContext:\n    seLinuxOptions: {level: \"s0:c1,c2\"}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      seLinuxOptions: {type: container_t}\n"), nil},

		{"Unmasked", "unmasked-proc-mount", pod("  containers:\n  - name: a\n    image: x\n    securityContext: {procMount: Unmasked}\n"), []string{"spec.containers[0].securityContext.procMount|a"}},
		{"Default", "unmasked-proc-mount", pod("  containers:\n  - name: a\n    image: x\n    securityContext: {procMount: Default}\n"), nil},
		{"user namespace relaxed at baseline", "unmasked-proc-mount", pod("  hostUsers: false\n  containers:\n  - name: a\n    image: x\n    securityContext: {procMount: Unmasked}\n"), nil},

		{"unsafe sysctl", "unsafe-sysctls", pod("  securityContext:\n    sysctls:\n    - {name: net.ipv4.tcp_syncookies, value: \"1\"}\n    - {name: kernel.msgmax, value: \"1\"}\n  containers:\n  - name: a\n    image: x\n"), []string{"spec.securityContext.sysctls[1].name|"}},
		{"safe sysctls", "unsafe-sysctls", pod("  securityContext:\n    sysctls:\n    - {name: net.ipv4.ip_local_port_range, value: \"1024 65535\"}\n    - {name: net.ipv4.tcp_rmem, value: \"4096 87380 6291456\"}\n  containers:\n  - name: a\n    image: x\n"), nil},

		{"hostProcess pod and container", "windows-host-process", pod("  os: {name: windows}\n  securityContext:\n    windowsOptions: {hostProcess: true}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      windowsOptions: {hostProcess: true}\n"), []string{"spec.securityContext.windowsOptions.hostProcess|", "spec.containers[0].securityContext.windowsOptions.hostProcess|a"}},
		{"hostProcess false", "windows-host-process", pod("  os: {name: windows}\n  securityContext:\n    windowsOptions: {hostProcess: false}\n  containers:\n  - name: a\n    image: x\n"), nil},

		{"nfs, hostPath and empty volume", "restricted-volume-types", pod("  containers:\n" + hardened + "  volumes:\n  - name: a\n    nfs: {server: s, path: /}\n  - name: b\n    configMap: {name: c}\n  - name: c\n    hostPath: {path: /tmp}\n  - name: d\n"), []string{"spec.volumes[0]|", "spec.volumes[2]|", "spec.volumes[3]|"}},
		{"allowed volume types", "restricted-volume-types", pod("  containers:\n" + hardened + "  volumes:\n  - {name: a, secret: {secretName: s}}\n  - {name: b, persistentVolumeClaim: {claimName: c}}\n  - {name: c, csi: {driver: d}}\n  - {name: d, downwardAPI: {items: []}}\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.control+"/"+tt.name, func(t *testing.T) {
			got := runControl(t, tt.control, tt.doc)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("violations:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}
