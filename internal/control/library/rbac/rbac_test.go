package rbac

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control/controltest"
)

// run decodes doc (one object) and returns the paths the control reports,
// or nil when the control does not apply.
func run(t *testing.T, id, doc string) []string {
	t.Helper()
	applied, paths := controltest.CheckDoc(t, Controls, id, doc)
	if !applied {
		return nil
	}
	return append([]string{}, paths...)
}

// role renders a ClusterRole with the given rules (YAML flow lines).
func role(rules ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\nrules:\n")
	for _, r := range rules {
		b.WriteString("  - " + r + "\n")
	}
	return b.String()
}

func binding(kind, roleKind, roleName string, subjects ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: rbac.authorization.k8s.io/v1\nkind: " + kind + "\nmetadata:\n  name: b\n  namespace: ns\n")
	b.WriteString("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + roleKind + ", name: " + roleName + "}\nsubjects:\n")
	for _, s := range subjects {
		b.WriteString("  - " + s + "\n")
	}
	return b.String()
}

func TestControls(t *testing.T) {
	tests := []struct {
		name string
		id   string
		doc  string
		want []string // nil: control does not apply
	}{
		// cluster-admin-binding
		{"sa bound to cluster-admin", "cluster-admin-binding",
			binding("ClusterRoleBinding", "ClusterRole", "cluster-admin", "{kind: ServiceAccount, name: ci, namespace: ci}"), []string{"subjects[0]"}},
		{"kube-system sa still flagged", "cluster-admin-binding",
			binding("ClusterRoleBinding", "ClusterRole", "cluster-admin", "{kind: ServiceAccount, name: tiller, namespace: kube-system}"), []string{"subjects[0]"}},
		{"system:masters exempt, others flagged", "cluster-admin-binding",
			binding("RoleBinding", "ClusterRole", "cluster-admin", "{kind: Group, name: system:masters}", "{kind: Group, name: system:authenticated}"), []string{"subjects[1]"}},
		{"Role named cluster-admin is not the ClusterRole", "cluster-admin-binding",
			binding("RoleBinding", "Role", "cluster-admin", "{kind: User, name: alice}"), []string{}},
		{"other clusterrole", "cluster-admin-binding",
			binding("ClusterRoleBinding", "ClusterRole", "admin", "{kind: User, name: alice}"), []string{}},
		{"bootstrap binding skipped", "cluster-admin-binding",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: x\n  labels: {kubernetes.io/bootstrapping: rbac-defaults}\nroleRef: {kind: ClusterRole, name: cluster-admin}\nsubjects:\n  - {kind: User, name: bob}\n", nil},
		{"non-rbac group kind ignored", "cluster-admin-binding",
			"apiVersion: example.com/v1\nkind: RoleBinding\nmetadata:\n  name: x\nroleRef: {kind: ClusterRole, name: cluster-admin}\nsubjects:\n  - {kind: User, name: bob}\n", nil},

		// anonymous-access-binding
		{"anonymous user", "anonymous-access-binding",
			binding("RoleBinding", "Role", "reader", "{kind: User, name: alice}", "{kind: User, name: system:anonymous}"), []string{"subjects[1]"}},
		{"unauthenticated group", "anonymous-access-binding",
			binding("ClusterRoleBinding", "ClusterRole", "view", "{kind: Group, name: system:unauthenticated}"), []string{"subjects[0]"}},
		{"public info viewer exempt", "anonymous-access-binding",
			binding("ClusterRoleBinding", "ClusterRole", "system:public-info-viewer", "{kind: Group, name: system:unauthenticated}"), []string{}},
		{"group named system:anonymous is not the anonymous user", "anonymous-access-binding",
			binding("ClusterRoleBinding", "ClusterRole", "view", "{kind: Group, name: system:anonymous}"), []string{}},

		// rbac-wildcard
		{"wildcard verbs", "rbac-wildcard", role(`{apiGroups: [""], resources: [pods], verbs: ["get"]}`, `{apiGroups: [""], resources: [pods], verbs: ["*"]}`), []string{"rules[1].verbs"}},
		{"wildcard resources and groups", "rbac-wildcard", role(`{apiGroups: ["*"], resources: ["*"], verbs: [get]}`), []string{"rules[0].resources"}},
		{"wildcard group only", "rbac-wildcard", role(`{apiGroups: ["*"], resources: [pods], verbs: [get]}`), []string{"rules[0].apiGroups"}},
		{"no wildcard", "rbac-wildcard", role(`{apiGroups: [apps], resources: [deployments], verbs: [get, list]}`), []string{}},
		{"aggregated role without rules", "rbac-wildcard",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: agg\naggregationRule:\n  clusterRoleSelectors:\n    - matchLabels: {x: y}\n", []string{}},
		{"bootstrap role skipped", "rbac-wildcard",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cluster-admin\n  labels: {kubernetes.io/bootstrapping: rbac-defaults}\nrules:\n  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n", nil},
		{"system: name without bootstrap label is checked", "rbac-wildcard",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:sneaky\nrules:\n  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n", []string{"rules[0].verbs"}},

		// rbac-secrets-access
		{"get secrets", "rbac-secrets-access", role(`{apiGroups: [""], resources: [secrets], verbs: [get]}`), []string{"rules[0].resources"}},
		{"watch secrets among others", "rbac-secrets-access", role(`{apiGroups: [""], resources: [configmaps], verbs: [get]}`, `{apiGroups: [""], resources: [configmaps, secrets], verbs: [watch]}`), []string{"rules[1].resources"}},
		{"wildcard verbs on secrets", "rbac-secrets-access", role(`{apiGroups: [""], resources: [secrets], verbs: ["*"]}`), []string{"rules[0].resources"}},
		{"wildcard everything", "rbac-secrets-access", role(`{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`), []string{"rules[0].resources"}},
		{"secrets in another group", "rbac-secrets-access", role(`{apiGroups: [example.com], resources: [secrets], verbs: [get, list]}`), []string{}},
		{"write-only secrets", "rbac-secrets-access", role(`{apiGroups: [""], resources: [secrets], verbs: [create, delete]}`), []string{}},
		{"named secrets", "rbac-secrets-access", role(`{apiGroups: [""], resources: [secrets], resourceNames: [tls], verbs: [get]}`), []string{}},

		// rbac-pod-exec
		{"create exec", "rbac-pod-exec", role(`{apiGroups: [""], resources: [pods/exec], verbs: [create]}`), []string{"rules[0].resources"}},
		{"get attach (websocket)", "rbac-pod-exec", role(`{apiGroups: [""], resources: [pods/attach], verbs: [get]}`), []string{"rules[0].resources"}},
		{"star subresource", "rbac-pod-exec", role(`{apiGroups: [""], resources: ["*/exec"], verbs: [create]}`), []string{"rules[0].resources"}},
		{"pods only", "rbac-pod-exec", role(`{apiGroups: [""], resources: [pods, pods/log], verbs: [get, create]}`), []string{}},
		{"exec list verb", "rbac-pod-exec", role(`{apiGroups: [""], resources: [pods/exec], verbs: [list]}`), []string{}},
		{"exec in another group", "rbac-pod-exec", role(`{apiGroups: [apps], resources: [pods/exec], verbs: [create]}`), []string{}},

		// rbac-escalation
		{"escalate roles", "rbac-escalation", role(`{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}`), []string{"rules[0].verbs"}},
		{"bind wildcard resources", "rbac-escalation", role(`{apiGroups: [rbac.authorization.k8s.io], resources: ["*"], verbs: [bind]}`), []string{"rules[0].verbs"}},
		{"impersonate users", "rbac-escalation", role(`{apiGroups: [""], resources: [users], verbs: [impersonate]}`), []string{"rules[0].verbs"}},
		{"impersonate userextras", "rbac-escalation", role(`{apiGroups: [authentication.k8s.io], resources: [userextras/scopes], verbs: [impersonate]}`), []string{"rules[0].verbs"}},
		{"all wildcards", "rbac-escalation", role(`{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`), []string{"rules[0].verbs", "rules[0].verbs"}},
		{"bind named role", "rbac-escalation", role(`{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [viewer], verbs: [bind]}`), []string{}},
		{"bind named cluster-admin", "rbac-escalation", role(`{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [cluster-admin], verbs: [bind]}`), []string{"rules[0].verbs"}},
		{"bind in another group", "rbac-escalation", role(`{apiGroups: [example.com], resources: [roles], verbs: [bind]}`), []string{}},
		{"create rolebindings", "rbac-escalation", role(`{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}`), []string{}},

		// rbac-create-workloads
		{"create pods", "rbac-create-workloads", role(`{apiGroups: [""], resources: [pods], verbs: [create]}`), []string{"rules[0].resources"}},
		{"create cronjobs", "rbac-create-workloads", role(`{apiGroups: [batch], resources: [cronjobs], verbs: [create]}`), []string{"rules[0].resources"}},
		{"wildcard resources in apps", "rbac-create-workloads", role(`{apiGroups: [apps], resources: ["*"], verbs: [create]}`), []string{"rules[0].resources"}},
		{"deployments in core group", "rbac-create-workloads", role(`{apiGroups: [""], resources: [deployments], verbs: [create]}`), []string{}},
		{"update deployments", "rbac-create-workloads", role(`{apiGroups: [apps], resources: [deployments], verbs: [update, patch]}`), []string{}},

		// rbac-node-proxy
		{"get nodes/proxy", "rbac-node-proxy", role(`{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}`), []string{"rules[0].resources"}},
		{"wildcard resources", "rbac-node-proxy", role(`{apiGroups: [""], resources: ["*"], verbs: [list]}`), []string{"rules[0].resources"}},
		{"nodes/metrics", "rbac-node-proxy", role(`{apiGroups: [""], resources: [nodes, nodes/metrics], verbs: [get]}`), []string{}},
		{"nodes/proxy no verbs", "rbac-node-proxy", role(`{apiGroups: [""], resources: [nodes/proxy], verbs: []}`), []string{}},

		// rbac-webhook-config
		{"delete validating", "rbac-webhook-config", role(`{apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [delete]}`), []string{"rules[0].resources"}},
		{"read-only webhooks", "rbac-webhook-config", role(`{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [get, list, watch]}`), []string{}},
		{"webhooks in wrong group", "rbac-webhook-config", role(`{apiGroups: [""], resources: [mutatingwebhookconfigurations], verbs: [create]}`), []string{}},

		// rbac-csr-approval
		{"update approval", "rbac-csr-approval", role(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}`), []string{"rules[0].resources"}},
		{"approve signers", "rbac-csr-approval", role(`{apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve]}`), []string{"rules[0].verbs"}},
		{"create csr", "rbac-csr-approval", role(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [create, update]}`), []string{}},
		{"approval in core group", "rbac-csr-approval", role(`{apiGroups: [""], resources: [certificatesigningrequests/approval], verbs: [update]}`), []string{}},

		// rbac-token-request
		{"create token", "rbac-token-request", role(`{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}`), []string{"rules[0].resources"}},
		{"wildcard verbs on token", "rbac-token-request", role(`{apiGroups: [""], resources: [serviceaccounts/token], verbs: ["*"]}`), []string{"rules[0].resources"}},
		{"get token", "rbac-token-request", role(`{apiGroups: [""], resources: [serviceaccounts/token], verbs: [get]}`), []string{}},
		{"create serviceaccounts", "rbac-token-request", role(`{apiGroups: [""], resources: [serviceaccounts], verbs: [create]}`), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.name, func(t *testing.T) {
			got := run(t, tt.id, tt.doc)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paths = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestHasResource(t *testing.T) {
	tests := []struct {
		name      string
		resources []string
		resource  string
		want      bool
	}{
		{"exact", []string{"pods"}, "pods", true},
		{"star", []string{"*"}, "pods/exec", true},
		{"star subresource", []string{"*/exec"}, "pods/exec", true},
		{"star subresource does not match parent", []string{"*/exec"}, "pods", false},
		{"resource star is not a pattern", []string{"pods/*"}, "pods/exec", false},
		{"parent does not grant subresource", []string{"pods"}, "pods/exec", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Rule{Resources: tt.resources}).HasResource(tt.resource); got != tt.want {
				t.Errorf("HasResource(%q) on %v = %v, want %v", tt.resource, tt.resources, got, tt.want)
			}
		})
	}
}
