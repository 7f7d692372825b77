package exposure

import (
	"reflect"
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
)

func deployment(name, ns, image, args string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  template:\n    metadata:\n      labels: {k8s-app: " + name + "}\n    spec:\n      containers:\n      - name: main\n        image: " + image + "\n" + args
}

func TestPerObjectControls(t *testing.T) {
	const c0 = "spec.template.spec.containers[0]"
	tests := []struct {
		name    string
		id      string
		doc     string
		applied bool
		want    []string
	}{
		{"dashboard skip login bare", "dashboard-skip-login", deployment("kubernetes-dashboard", "kd", "kubernetesui/dashboard:v2.7.0", "        args: [--auto-generate-certificates, --enable-skip-login]\n"), true, []string{c0 + ".args[1]"}},
		{"dashboard skip login true", "dashboard-skip-login", deployment("ui", "kd", "kubernetesui/dashboard:v2.7.0", "        args: [--enable-skip-login=true]\n"), true, []string{c0 + ".args[0]"}},
		{"dashboard skip login false", "dashboard-skip-login", deployment("ui", "kd", "kubernetesui/dashboard:v2.7.0", "        args: [--enable-skip-login=false]\n"), true, nil},
		{"dashboard insecure login and basic", "dashboard-skip-login", deployment("ui", "kd", "k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1", "        args: [--enable-insecure-login, --authentication-mode=basic]\n"), true, []string{c0 + ".args[0]", c0 + ".args[1]"}},
		{"dashboard token mode", "dashboard-skip-login", deployment("ui", "kd", "kubernetesui/dashboard:v2.7.0", "        args: [--authentication-mode=token]\n"), true, nil},
		{"dashboard found by workload name", "dashboard-skip-login", deployment("kubernetes-dashboard", "kd", "mirror.local/ui:1", "        args: [--enable-skip-login]\n"), true, []string{c0 + ".args[0]"}},
		{"skip login flag on other app not applied", "dashboard-skip-login", deployment("web", "shop", "nginx", "        args: [--enable-skip-login]\n"), false, nil},
		{"metrics scraper not a dashboard", "dashboard-skip-login", deployment("dashboard-metrics-scraper", "kd", "kubernetesui/metrics-scraper:v1.0.8", ""), false, nil},

		{"argo auth-mode server equals", "argo-server-auth-disabled", deployment("argo-server", "argo", "quay.io/argoproj/argocli:v3.5.5", "        args: [server, --auth-mode=server]\n"), true, []string{c0 + ".args[1]"}},
		{"argo auth-mode server spaced", "argo-server-auth-disabled", deployment("argo-server", "argo", "argoproj/argocli:v3.4.0", "        args: [server, --auth-mode, server]\n"), true, []string{c0 + ".args[1]"}},
		{"argo auth-mode list", "argo-server-auth-disabled", deployment("argo-server", "argo", "argoproj/argocli:v3.4.0", "        args: [server, --auth-mode=client, --auth-mode=server]\n"), true, []string{c0 + ".args[2]"}},
		{"argo client mode", "argo-server-auth-disabled", deployment("argo-server", "argo", "quay.io/argoproj/argocli:v3.5.5", "        args: [server, --auth-mode=sso]\n"), true, nil},
		{"argo default mode", "argo-server-auth-disabled", deployment("argo-server", "argo", "quay.io/argoproj/argocli:v3.5.5", "        args: [server]\n"), true, nil},
		{"argo cli from custom image", "argo-server-auth-disabled", deployment("wf", "argo", "mirror.local/argo:3", "        command: [/bin/argo, server, --auth-mode=server]\n"), true, []string{c0 + ".command[2]"}},
		{"minio server is not argo", "argo-server-auth-disabled", deployment("minio", "storage", "minio/minio:latest", "        args: [server, /storage]\n"), false, nil},
		{"server args with auth-mode in custom image", "argo-server-auth-disabled", deployment("wf", "ci", "mirror.local/wf-ui:3", "        args: [server, --auth-mode=server]\n"), true, []string{c0 + ".args[1]"}},
		{"argocd server not argo workflows", "argo-server-auth-disabled", deployment("argocd-server", "argocd", "quay.io/argoproj/argocd:v2.13.0", "        command: [argocd-server]\n"), false, nil},

		{"service NodePort", "service-exposed-externally", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n", true, []string{"spec.type"}},
		{"service LoadBalancer", "service-exposed-externally", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: LoadBalancer\n", true, []string{"spec.type"}},
		{"service externalIPs", "service-exposed-externally", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  externalIPs: [1.2.3.4]\n", true, []string{"spec.externalIPs"}},
		{"service ClusterIP", "service-exposed-externally", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: ClusterIP\n", true, nil},
		{"service headless default type", "service-exposed-externally", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: None\n", true, nil},

		{"mtls permissive", "mtls-permissive", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls: {mode: PERMISSIVE}\n", true, []string{"spec.mtls.mode"}},
		{"mtls disable", "mtls-permissive", "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls: {mode: DISABLE}\n", true, []string{"spec.mtls.mode"}},
		{"mtls strict", "mtls-permissive", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls: {mode: STRICT}\n", true, nil},
		{"mtls port level", "mtls-permissive", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  selector: {matchLabels: {app: a}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    9000: {mode: STRICT}\n    8080: {mode: PERMISSIVE}\n", true, []string{"spec.portLevelMtls.8080.mode"}},
		{"mtls mesh-wide unset", "mtls-permissive", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {}\n", true, []string{"spec"}},
		{"mtls namespace unset inherits", "mtls-permissive", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: app}\nspec: {}\n", true, nil},
		{"other group PeerAuthentication", "mtls-permissive", "apiVersion: example.com/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  mtls: {mode: PERMISSIVE}\n", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			controltest.ExpectCheck(t, Controls, tt.id, tt.doc, tt.applied, tt.want)
		})
	}
}

func TestDashboardExposed(t *testing.T) {
	dash := deployment("kubernetes-dashboard", "kd", "kubernetesui/dashboard:v2.7.0", "")
	svc := func(name, ns, typ, selector string) string {
		return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  type: " + typ + "\n  selector: " + selector + "\n"
	}
	ing := func(ns, backend string) string {
		return "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: " + ns + "}\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        backend: " + backend + "\n"
	}
	tests := []struct {
		name      string
		doc       string
		evaluated int
		want      []string // "Kind/name path"
	}{
		{"NodePort selecting dashboard", dash + svc("ui", "kd", "NodePort", "{k8s-app: kubernetes-dashboard}"), 1, []string{"Service/ui spec.type"}},
		{"LoadBalancer in another namespace", dash + svc("ui", "other", "LoadBalancer", "{k8s-app: kubernetes-dashboard}"), 1, nil},
		{"ClusterIP selecting dashboard", dash + svc("ui", "kd", "ClusterIP", "{k8s-app: kubernetes-dashboard}"), 1, nil},
		{"LoadBalancer selecting something else", dash + svc("web", "kd", "LoadBalancer", "{app: web}"), 1, nil},
		{"LoadBalancer named kubernetes-dashboard, workload not scanned", svc("kubernetes-dashboard", "kd", "LoadBalancer", "{k8s-app: x}"), 1, []string{"Service/kubernetes-dashboard spec.type"}},
		{"Ingress to dashboard Service", dash + svc("ui", "kd", "ClusterIP", "{k8s-app: kubernetes-dashboard}") + ing("kd", "{service: {name: ui, port: {number: 443}}}"), 2,
			[]string{"Ingress/i spec.rules[0].http.paths[0].backend.service.name"}},
		{"old Ingress to kubernetes-dashboard by name", ing("kd", "{serviceName: kubernetes-dashboard, servicePort: 443}"), 1,
			[]string{"Ingress/i spec.rules[0].http.paths[0].backend.serviceName"}},
		{"Ingress to dashboard Service in other namespace", dash + svc("ui", "kd", "ClusterIP", "{k8s-app: kubernetes-dashboard}") + ing("web", "{service: {name: ui, port: {number: 443}}}"), 2, nil},
		{"Ingress to unrelated Service", dash + ing("kd", "{service: {name: web, port: {number: 80}}}"), 1, nil},
	}
	c := controltest.ByID(t, Controls, "dashboard-exposed")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := controltest.Cross(t, c, controltest.Decode(t, tt.doc))
			if len(cc.Evaluated) != tt.evaluated {
				t.Errorf("evaluated %d entries, want %d", len(cc.Evaluated), tt.evaluated)
			}
			got := controltest.CrossFindings(cc, cc.Evaluated)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}
