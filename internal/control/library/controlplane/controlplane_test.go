package controlplane

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// staticPod renders a kube-system Pod whose only container has the given
// YAML body (indented under the container's list item).
func staticPod(container string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: cp, namespace: kube-system}\nspec:\n  containers:\n  - name: c\n" + container
}

// cmd renders a command list.
func cmd(words ...string) string {
	var b strings.Builder
	b.WriteString("    command:\n")
	for _, w := range words {
		b.WriteString("    - " + w + "\n")
	}
	return b.String()
}

var secureAPI = []string{
	"kube-apiserver",
	"--anonymous-auth=false",
	"--authorization-mode=Node,RBAC",
	"--enable-admission-plugins=NodeRestriction",
	"--audit-log-path=/var/log/audit.log",
	"--audit-policy-file=/etc/kubernetes/audit.yaml",
	"--encryption-provider-config=/etc/kubernetes/enc.yaml",
	"--etcd-servers=https://127.0.0.1:2379",
	"--etcd-cafile=/pki/etcd/ca.crt",
	"--etcd-certfile=/pki/etcd.crt",
	"--etcd-keyfile=/pki/etcd.key",
	"--profiling=false",
}

// apiWith returns the secure API server command with flags matching drop
// removed and extra appended.
func apiWith(drop []string, extra ...string) []string {
	var out []string
	for _, w := range secureAPI {
		keep := true
		for _, d := range drop {
			if strings.HasPrefix(w, d+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, w)
		}
	}
	return append(out, extra...)
}

func TestControlPlaneControls(t *testing.T) {
	const c0 = "spec.containers[0]"
	tests := []struct {
		name    string
		id      string
		doc     string
		applied bool
		want    []string
	}{
		{"insecure port not applied to nginx", "apiserver-insecure-port", staticPod("    image: nginx\n" + cmd("nginx", "-g", "daemon off;")), false, nil},
		{"insecure port absent", "apiserver-insecure-port", staticPod(cmd(secureAPI...)), true, nil},
		{"insecure port zero", "apiserver-insecure-port", staticPod(cmd(apiWith(nil, "--insecure-port=0")...)), true, nil},
		{"insecure port 8080 and bind address", "apiserver-insecure-port", staticPod(cmd(apiWith(nil, "--insecure-port=8080", "--insecure-bind-address=0.0.0.0")...)), true,
			[]string{c0 + ".command[12]", c0 + ".command[13]"}},
		{"insecure port space separated", "apiserver-insecure-port", staticPod(cmd(apiWith(nil, "--insecure-port", "8080")...)), true, []string{c0 + ".command[12]"}},

		{"anonymous absent defaults true", "apiserver-anonymous-auth", staticPod(cmd(apiWith([]string{"--anonymous-auth"})...)), true, []string{c0 + ".command"}},
		{"anonymous bare flag is true", "apiserver-anonymous-auth", staticPod(cmd(apiWith([]string{"--anonymous-auth"}, "--anonymous-auth")...)), true, []string{c0 + ".command[11]"}},
		{"anonymous false", "apiserver-anonymous-auth", staticPod(cmd(secureAPI...)), true, nil},
		{"anonymous last occurrence wins", "apiserver-anonymous-auth", staticPod(cmd(apiWith(nil, "--anonymous-auth=true")...)), true, []string{c0 + ".command[12]"}},
		{"anonymous in args after command", "apiserver-anonymous-auth", staticPod("    command: [kube-apiserver]\n    args: [--anonymous-auth=true]\n"), true, []string{c0 + ".args[0]"}},
		{"anonymous image entrypoint with args only", "apiserver-anonymous-auth", staticPod("    image: registry.k8s.io/kube-apiserver:v1.31.0\n    args: [--anonymous-auth=false]\n"), true, nil},
		{"anonymous image entrypoint absent flag", "apiserver-anonymous-auth", staticPod("    image: registry.k8s.io/kube-apiserver-amd64:v1.16.0\n    args: [--secure-port=6443]\n"), true, []string{c0 + ".args"}},
		{"anonymous hyperkube", "apiserver-anonymous-auth", staticPod(cmd("/hyperkube", "apiserver", "--anonymous-auth=true")), true, []string{c0 + ".command[2]"}},
		{"anonymous go-runner wrapper", "apiserver-anonymous-auth", staticPod(cmd("/go-runner", "--log-file=/var/log/kube-apiserver.log", "/usr/local/bin/kube-apiserver", "--anonymous-auth=true")), true, []string{c0 + ".command[3]"}},
		{"anonymous shell script", "apiserver-anonymous-auth", staticPod(cmd("/bin/sh", "-c", `"mkdir -p /var/log && exec /usr/local/bin/kube-apiserver --anonymous-auth=true --v=2"`)), true, []string{c0 + ".command[2]"}},
		{"anonymous script without apiserver", "apiserver-anonymous-auth", staticPod(cmd("/bin/sh", "-c", `"kube-bench run --targets master"`)), false, nil},

		{"authz absent defaults AlwaysAllow", "apiserver-always-allow", staticPod(cmd(apiWith([]string{"--authorization-mode"})...)), true, []string{c0 + ".command"}},
		{"authz AlwaysAllow", "apiserver-always-allow", staticPod(cmd(apiWith([]string{"--authorization-mode"}, "--authorization-mode=RBAC,AlwaysAllow")...)), true, []string{c0 + ".command[11]"}},
		{"authz without RBAC", "apiserver-always-allow", staticPod(cmd(apiWith([]string{"--authorization-mode"}, "--authorization-mode=Node,Webhook")...)), true, []string{c0 + ".command[11]"}},
		{"authz Node,RBAC", "apiserver-always-allow", staticPod(cmd(secureAPI...)), true, nil},
		{"authz structured config", "apiserver-always-allow", staticPod(cmd(apiWith([]string{"--authorization-mode"}, "--authorization-config=/etc/kubernetes/authz.yaml")...)), true, nil},

		{"AlwaysAdmit enabled", "apiserver-always-admit", staticPod(cmd(apiWith([]string{"--enable-admission-plugins"}, "--enable-admission-plugins=NodeRestriction,AlwaysAdmit")...)), true, []string{c0 + ".command[11]"}},
		{"AlwaysAdmit in deprecated flag", "apiserver-always-admit", staticPod(cmd(apiWith(nil, "--admission-control=AlwaysAdmit")...)), true, []string{c0 + ".command[12]"}},
		{"AlwaysAdmit absent", "apiserver-always-admit", staticPod(cmd(secureAPI...)), true, nil},

		{"audit nothing", "apiserver-audit-log-disabled", staticPod(cmd(apiWith([]string{"--audit-log-path", "--audit-policy-file"})...)), true, []string{c0 + ".command"}},
		{"audit path without policy", "apiserver-audit-log-disabled", staticPod(cmd(apiWith([]string{"--audit-policy-file"})...)), true, []string{c0 + ".command[4]"}},
		{"audit webhook with policy", "apiserver-audit-log-disabled", staticPod(cmd(apiWith([]string{"--audit-log-path"}, "--audit-webhook-config-file=/etc/kubernetes/webhook.yaml")...)), true, nil},
		{"audit log with policy", "apiserver-audit-log-disabled", staticPod(cmd(secureAPI...)), true, nil},

		{"encryption absent", "apiserver-encryption-at-rest", staticPod(cmd(apiWith([]string{"--encryption-provider-config"})...)), true, []string{c0 + ".command"}},
		{"encryption set", "apiserver-encryption-at-rest", staticPod(cmd(secureAPI...)), true, nil},

		{"etcd http and no certs", "apiserver-etcd-no-tls", staticPod(cmd(apiWith([]string{"--etcd-servers", "--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"}, "--etcd-servers=https://10.0.0.1:2379,http://10.0.0.2:2379")...)), true,
			[]string{c0 + ".command[8]", c0 + ".command"}},
		{"etcd missing keyfile", "apiserver-etcd-no-tls", staticPod(cmd(apiWith([]string{"--etcd-keyfile"})...)), true, []string{c0 + ".command"}},
		{"etcd mutual TLS", "apiserver-etcd-no-tls", staticPod(cmd(secureAPI...)), true, nil},

		{"apiserver profiling absent", "apiserver-profiling", staticPod(cmd(apiWith([]string{"--profiling"})...)), true, []string{c0 + ".command"}},
		{"apiserver profiling false", "apiserver-profiling", staticPod(cmd(secureAPI...)), true, nil},
		{"controller-manager profiling absent", "controller-manager-profiling", staticPod(cmd("kube-controller-manager", "--leader-elect=true")), true, []string{c0 + ".command"}},
		{"controller-manager profiling false", "controller-manager-profiling", staticPod(cmd("kube-controller-manager", "--profiling=false")), true, nil},
		{"controller-manager not applied to apiserver", "controller-manager-profiling", staticPod(cmd(secureAPI...)), false, nil},
		{"scheduler profiling true", "scheduler-profiling", staticPod(cmd("kube-scheduler", "--profiling=true")), true, []string{c0 + ".command[1]"}},
		{"scheduler profiling 0 is false", "scheduler-profiling", staticPod(cmd("kube-scheduler", "--profiling=0")), true, nil},

		{"etcd client auth absent", "etcd-no-client-auth", staticPod(cmd("etcd", "--listen-client-urls=https://127.0.0.1:2379")), true, []string{c0 + ".command"}},
		{"etcd client auth and http listener", "etcd-no-client-auth", staticPod(cmd("etcd", "--client-cert-auth=true", "--listen-client-urls=https://127.0.0.1:2379,http://10.0.0.1:2379", "--advertise-client-urls=https://10.0.0.1:2379")), true, []string{c0 + ".command[2]"}},
		{"etcd client auth via env", "etcd-no-client-auth", staticPod(cmd("etcd") + "    env:\n    - {name: ETCD_CLIENT_CERT_AUTH, value: \"true\"}\n"), true, nil},
		{"etcd client auth false via env", "etcd-no-client-auth", staticPod(cmd("etcd") + "    env:\n    - {name: ETCD_CLIENT_CERT_AUTH, value: \"false\"}\n"), true, []string{c0 + ".env[0].value"}},
		{"etcd config file", "etcd-no-client-auth", staticPod(cmd("etcd", "--config-file=/etc/etcd/etcd.conf.yml")), true, nil},
		{"etcdctl is not etcd", "etcd-no-client-auth", staticPod(cmd("etcdctl", "snapshot", "save", "/backup/db")), false, nil},

		{"kubelet flags default", "kubelet-anonymous-auth", staticPod(cmd("kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf")), true, []string{c0 + ".command"}},
		{"kubelet flags with config", "kubelet-anonymous-auth", staticPod(cmd("kubelet", "--config=/var/lib/kubelet/config.yaml")), true, nil},
		{"kubelet flag overrides config", "kubelet-anonymous-auth", staticPod(cmd("kubelet", "--config=/var/lib/kubelet/config.yaml", "--anonymous-auth=true")), true, []string{c0 + ".command[2]"}},
		{"kubelet config anonymous enabled", "kubelet-anonymous-auth", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\n", true, []string{"authentication.anonymous.enabled"}},
		{"kubelet config defaults", "kubelet-anonymous-auth", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n", true, nil},
		{"other group named KubeletConfiguration", "kubelet-anonymous-auth", "apiVersion: example.com/v1\nkind: KubeletConfiguration\nmetadata: {name: x}\n", false, nil},
		{"kubelet authz default", "kubelet-always-allow", staticPod(cmd("kubelet")), true, []string{c0 + ".command"}},
		{"kubelet authz webhook", "kubelet-always-allow", staticPod(cmd("kubelet", "--authorization-mode", "Webhook")), true, nil},
		{"kubelet config AlwaysAllow", "kubelet-always-allow", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthorization:\n  mode: AlwaysAllow\n", true, []string{"authorization.mode"}},
		{"kubelet config Webhook", "kubelet-always-allow", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthorization:\n  mode: Webhook\n", true, nil},
		{"kubelet read-only default", "kubelet-read-only-port", staticPod(cmd("kubelet")), true, []string{c0 + ".command"}},
		{"kubelet read-only zero", "kubelet-read-only-port", staticPod(cmd("kubelet", "--read-only-port=0")), true, nil},
		{"kubelet config read-only port", "kubelet-read-only-port", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 10255\n", true, []string{"readOnlyPort"}},
		{"kubelet config read-only port zero", "kubelet-read-only-port", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			controltest.ExpectCheck(t, Controls, tt.id, tt.doc, tt.applied, tt.want)
		})
	}
}

func TestControlPlaneDeployment(t *testing.T) {
	// Self-hosted control plane: the path is under the pod template.
	doc := "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: registry.k8s.io/kube-apiserver:v1.31.0\n        command: [kube-apiserver, --profiling=true]\n"
	tests := []struct {
		name string
		id   string
		want []string
	}{
		{"profiling flag path", "apiserver-profiling", []string{"spec.template.spec.containers[0].command[1]"}},
		{"absent flag path", "apiserver-encryption-at-rest", []string{"spec.template.spec.containers[0].command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			applied, got := controltest.CheckDoc(t, Controls, tt.id, doc)
			if !applied || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("applied=%v paths=%q, want %q", applied, got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tok := func(words ...string) []Token {
		out := make([]Token, len(words))
		for i, w := range words {
			out[i] = Token{Text: w, Path: k8s.Index("c", i)}
		}
		return out
	}
	tests := []struct {
		name string
		in   []Token
		want []Flag
	}{
		{"equals", tok("--a=1", "-b=2"), []Flag{{"a", "1", "c[0]"}, {"b", "2", "c[1]"}}},
		{"space separated", tok("--a", "1", "--b"), []Flag{{"a", "1", "c[0]"}, {"b", "true", "c[2]"}}},
		{"bool does not take next word", tok("--profiling", "x"), []Flag{{"profiling", "true", "c[0]"}}},
		{"value with equals", tok("--x=a=b"), []Flag{{"x", "a=b", "c[0]"}}},
		{"shell separator ends", tok("--a=1", "&&", "--b=2"), []Flag{{"a", "1", "c[0]"}}},
		{"flag before separator has no value", tok("--a", ";"), []Flag{{"a", "true", "c[0]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := ParseFlags(tt.in, boolFlags)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestImageName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"registry and tag", "registry.k8s.io/kube-apiserver:v1.31.0", "kube-apiserver"},
		{"port in registry", "localhost:5000/etcd:3.5", "etcd"},
		{"digest", "gcr.io/x/kube-scheduler@sha256:abc", "kube-scheduler"},
		{"bare", "etcd", "etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ImageName(tt.in); got != tt.want {
				t.Errorf("ImageName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
