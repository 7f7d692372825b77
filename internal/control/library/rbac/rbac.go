// Package rbac holds the RBAC controls: dangerous bindings (cluster-admin,
// anonymous subjects) and dangerous permissions in Role and ClusterRole
// rules (wildcards, secrets, exec, privilege escalation, workload creation,
// node proxy, admission webhooks, certificate approval, token minting).
//
// Matching follows the Kubernetes RBAC authorizer: a rule grants a
// permission when its apiGroups, resources and verbs each contain the
// requested value or "*"; a resource "*/sub" matches any resource's
// subresource "sub". A wildcard therefore implies every specific permission
// checked here, and a resource in another API group (say "secrets" under a
// custom group) does not match.
//
// Bootstrap policy: objects labelled kubernetes.io/bootstrapping=rbac-defaults
// are created and reconciled by the API server itself (cluster-admin, edit,
// system:node, ...). They cannot be fixed by the user, so no control applies
// to them. Names starting with "system:" are NOT skipped on their own: the
// prefix is only a naming convention, third-party charts use it (for example
// system:metrics-server), and a name is an easy place to hide a permissive
// role.
package rbac

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Group is the RBAC API group.
const Group = "rbac.authorization.k8s.io"

// RoleKinds are the kinds holding rules.
var RoleKinds = []string{"Role", "ClusterRole"}

// BindingKinds are the kinds holding subjects.
var BindingKinds = []string{"RoleBinding", "ClusterRoleBinding"}

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

// IsBootstrap reports whether obj belongs to the API server's bootstrap
// RBAC policy (it carries the kubernetes.io/bootstrapping=rbac-defaults label).
func IsBootstrap(obj *k8s.Object) bool {
	return obj.Labels()["kubernetes.io/bootstrapping"] == "rbac-defaults"
}

// applies selects genuine RBAC objects that are not bootstrap policy.
func applies(obj *k8s.Object) bool { return obj.Group() == Group && !IsBootstrap(obj) }

// Rule is one RBAC policy rule.
type Rule struct {
	// Index is the rule's position in rules.
	Index int
	// Path is the rule's field path, e.g. "rules[2]".
	Path string
	// APIGroups, Resources, Verbs and ResourceNames are the rule's lists.
	APIGroups, Resources, Verbs, ResourceNames []string
}

// Rules returns the rules of a Role or ClusterRole.
func Rules(obj *k8s.Object) []Rule {
	items := k8s.Slice(obj.Content, "rules")
	out := make([]Rule, 0, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, Rule{
			Index:         i,
			Path:          k8s.Index("rules", i),
			APIGroups:     k8s.Strings(m, "apiGroups"),
			Resources:     k8s.Strings(m, "resources"),
			Verbs:         k8s.Strings(m, "verbs"),
			ResourceNames: k8s.Strings(m, "resourceNames"),
		})
	}
	return out
}

// HasGroup reports whether the rule covers API group g.
func (r Rule) HasGroup(g string) bool { return has(r.APIGroups, g) }

// HasVerb reports whether the rule grants one of verbs.
func (r Rule) HasVerb(verbs ...string) bool {
	for _, v := range verbs {
		if has(r.Verbs, v) {
			return true
		}
	}
	return false
}

// HasResource reports whether the rule covers resource, written as
// "resource" or "resource/subresource", the way the RBAC authorizer does:
// "*" matches everything and "*/sub" matches any resource's subresource sub.
func (r Rule) HasResource(resource string) bool {
	_, sub, hasSub := strings.Cut(resource, "/")
	for _, x := range r.Resources {
		if x == "*" || x == resource {
			return true
		}
		if hasSub && x == "*/"+sub {
			return true
		}
	}
	return false
}

// Grants reports whether the rule grants one of verbs on one of resources
// of API group g, returning the first resource that matched.
func (r Rule) Grants(g string, resources []string, verbs ...string) (string, bool) {
	if !r.HasGroup(g) || !r.HasVerb(verbs...) {
		return "", false
	}
	for _, res := range resources {
		if r.HasResource(res) {
			return res, true
		}
	}
	return "", false
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}

// ruleControl builds a control over each rule of every Role and ClusterRole.
func ruleControl(id string, check func(c *control.Context, r Rule)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    RoleKinds,
		Match:    applies,
		Check: func(c *control.Context) {
			for _, r := range Rules(c.Obj) {
				check(c, r)
			}
		},
	}
}

// Subject is one subject of a binding.
type Subject struct {
	// Path is the subject's field path, e.g. "subjects[0]".
	Path string
	// Kind is User, Group or ServiceAccount.
	Kind string
	// Name is the subject's name.
	Name string
	// Namespace is the ServiceAccount's namespace.
	Namespace string
}

// String renders the subject for messages.
func (s Subject) String() string {
	if s.Kind == "ServiceAccount" {
		return fmt.Sprintf("ServiceAccount %s/%s", s.Namespace, s.Name)
	}
	return s.Kind + " " + s.Name
}

// Subjects returns the subjects of a binding. A ServiceAccount subject
// without a namespace takes the binding's namespace.
func Subjects(obj *k8s.Object) []Subject {
	items := k8s.Slice(obj.Content, "subjects")
	out := make([]Subject, 0, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		s := Subject{Path: k8s.Index("subjects", i), Kind: k8s.Str(m, "kind"), Name: k8s.Str(m, "name"), Namespace: k8s.Str(m, "namespace")}
		if s.Kind == "ServiceAccount" && s.Namespace == "" {
			s.Namespace = obj.Namespace()
		}
		out = append(out, s)
	}
	return out
}

func logic() []*control.Control {
	return []*control.Control{
		{Metadata: control.Metadata{ID: "cluster-admin-binding"}, Kinds: BindingKinds, Match: applies, Check: clusterAdminBinding},
		{Metadata: control.Metadata{ID: "anonymous-access-binding"}, Kinds: BindingKinds, Match: applies, Check: anonymousBinding},
		ruleControl("rbac-wildcard", wildcard),
		ruleControl("rbac-secrets-access", secretsAccess),
		ruleControl("rbac-pod-exec", podExec),
		ruleControl("rbac-escalation", escalation),
		ruleControl("rbac-create-workloads", createWorkloads),
		ruleControl("rbac-node-proxy", nodeProxy),
		ruleControl("rbac-webhook-config", webhookConfig),
		ruleControl("rbac-csr-approval", csrApproval),
		ruleControl("rbac-token-request", tokenRequest),
	}
}

// clusterAdminBinding flags every subject bound to the cluster-admin
// ClusterRole except the group system:masters, which the API server
// already treats as superuser regardless of RBAC. Every other subject is
// flagged, including system: groups (system:authenticated,
// system:serviceaccounts, ...) and ServiceAccounts of kube-system: a token
// of any pod running as that account is a full cluster credential.
func clusterAdminBinding(c *control.Context) {
	ref := k8s.Map(c.Obj.Content, "roleRef")
	if k8s.Str(ref, "kind") != "ClusterRole" || k8s.Str(ref, "name") != "cluster-admin" {
		return
	}
	scope := "the whole cluster"
	if c.Obj.Kind() == "RoleBinding" {
		scope = fmt.Sprintf("namespace %q", c.Obj.Namespace())
	}
	for _, s := range Subjects(c.Obj) {
		if s.Kind == "Group" && s.Name == "system:masters" {
			continue
		}
		c.Failf(s.Path, "", "%s is bound to cluster-admin and has full control of %s", s, scope)
	}
}

// publicInfoViewer is the bootstrap ClusterRole Kubernetes itself binds to
// system:unauthenticated; it only allows /healthz, /livez, /readyz and /version.
const publicInfoViewer = "system:public-info-viewer"

// anonymousBinding flags bindings granting anything to the anonymous user
// or the unauthenticated group, except the binding to
// system:public-info-viewer that Kubernetes itself creates.
func anonymousBinding(c *control.Context) {
	ref := k8s.Map(c.Obj.Content, "roleRef")
	if k8s.Str(ref, "kind") == "ClusterRole" && k8s.Str(ref, "name") == publicInfoViewer {
		return
	}
	for _, s := range Subjects(c.Obj) {
		if (s.Kind == "User" && s.Name == "system:anonymous") || (s.Kind == "Group" && s.Name == "system:unauthenticated") {
			c.Failf(s.Path, "", "%s is bound to %s %q: anyone who can reach the API server gets its permissions without credentials", s, k8s.Str(ref, "kind"), k8s.Str(ref, "name"))
		}
	}
}

func wildcard(c *control.Context, r Rule) {
	var fields []string
	path := ""
	for _, f := range []struct {
		name string
		list []string
	}{{"verbs", r.Verbs}, {"resources", r.Resources}, {"apiGroups", r.APIGroups}} {
		for _, x := range f.list {
			if x == "*" {
				fields = append(fields, f.name)
				if path == "" {
					path = r.Path + "." + f.name
				}
				break
			}
		}
	}
	if len(fields) > 0 {
		c.Failf(path, "", "rule %d uses \"*\" in %s: it grants every current and future permission there", r.Index, strings.Join(fields, ", "))
	}
}

// secretsAccess flags read access to secrets. A rule narrowed with
// resourceNames to specific secrets is the recommended fix and passes.
func secretsAccess(c *control.Context, r Rule) {
	if len(r.ResourceNames) > 0 {
		return
	}
	if _, ok := r.Grants("", []string{"secrets"}, "get", "list", "watch"); ok {
		c.Failf(r.Path+".resources", "", "rule %d can read every Secret in its scope (%s)", r.Index, verbsOf(r, "get", "list", "watch"))
	}
}

func podExec(c *control.Context, r Rule) {
	if res, ok := r.Grants("", []string{"pods/exec", "pods/attach"}, "create", "get"); ok {
		c.Failf(r.Path+".resources", "", "rule %d allows %s on %s: a shell in any pod in scope, with its service account token", r.Index, verbsOf(r, "create", "get"), res)
	}
}

// superNames are resourceNames that keep a restricted escalation rule
// dangerous: binding or escalating into these roles, or impersonating this
// group, is cluster-admin.
var superNames = map[string]bool{"cluster-admin": true, "admin": true, "system:masters": true}

// escalation flags escalate/bind on roles and impersonate on identities. A
// rule narrowed with resourceNames (bind only the named low-privilege roles,
// impersonate only named users) is the documented safe pattern and passes,
// unless one of the names is cluster-admin, admin or system:masters.
func escalation(c *control.Context, r Rule) {
	if len(r.ResourceNames) > 0 {
		super := false
		for _, n := range r.ResourceNames {
			super = super || superNames[n]
		}
		if !super {
			return
		}
	}
	if res, ok := r.Grants(Group, []string{"roles", "clusterroles"}, "escalate", "bind"); ok {
		c.Failf(r.Path+".verbs", "", "rule %d allows %s on %s: the holder can grant itself any permission", r.Index, verbsOf(r, "escalate", "bind"), res)
	}
	if res, ok := r.Grants("", []string{"users", "groups", "serviceaccounts"}, "impersonate"); ok {
		c.Failf(r.Path+".verbs", "", "rule %d allows impersonate on %s: the holder can act as any identity in scope", r.Index, res)
	} else if r.HasGroup("authentication.k8s.io") && r.HasVerb("impersonate") && impersonatesExtras(r) {
		c.Failf(r.Path+".verbs", "", "rule %d allows impersonate on user UIDs or extra fields", r.Index)
	}
}

func impersonatesExtras(r Rule) bool {
	for _, x := range r.Resources {
		if x == "*" || x == "uids" || strings.HasPrefix(x, "userextras") {
			return true
		}
	}
	return false
}

// workloadResources maps API groups to the resources that run pods.
var workloadResources = []struct {
	group     string
	resources []string
}{
	{"", []string{"pods", "replicationcontrollers"}},
	{"apps", []string{"deployments", "daemonsets", "statefulsets", "replicasets"}},
	{"batch", []string{"jobs", "cronjobs"}},
	{"extensions", []string{"deployments", "daemonsets", "replicasets"}},
}

func createWorkloads(c *control.Context, r Rule) {
	for _, w := range workloadResources {
		if res, ok := r.Grants(w.group, w.resources, "create"); ok {
			c.Failf(r.Path+".resources", "", "rule %d allows create on %s: the holder can run any image with any service account in scope", r.Index, res)
			return
		}
	}
}

func nodeProxy(c *control.Context, r Rule) {
	if len(r.Verbs) == 0 {
		return
	}
	if _, ok := r.Grants("", []string{"nodes/proxy"}, r.Verbs...); ok {
		c.Failf(r.Path+".resources", "", "rule %d grants %s on nodes/proxy: direct kubelet API access, including exec in every pod of the node", r.Index, strings.Join(r.Verbs, ", "))
	}
}

func webhookConfig(c *control.Context, r Rule) {
	verbs := []string{"create", "update", "patch", "delete", "deletecollection"}
	if res, ok := r.Grants("admissionregistration.k8s.io", []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}, verbs...); ok {
		c.Failf(r.Path+".resources", "", "rule %d allows %s on %s: the holder can intercept, rewrite or disable admission of every object", r.Index, verbsOf(r, verbs...), res)
	}
}

// csrApproval flags permission to approve certificate signing requests:
// update (or patch) on the approval subresource, or approve on signers.
func csrApproval(c *control.Context, r Rule) {
	if _, ok := r.Grants("certificates.k8s.io", []string{"certificatesigningrequests/approval"}, "update", "patch"); ok {
		c.Failf(r.Path+".resources", "", "rule %d allows %s on certificatesigningrequests/approval: the holder can approve client certificates", r.Index, verbsOf(r, "update", "patch"))
		return
	}
	if _, ok := r.Grants("certificates.k8s.io", []string{"signers"}, "approve"); ok {
		c.Failf(r.Path+".verbs", "", "rule %d allows approve on signers: the holder can approve certificates for those signers", r.Index)
	}
}

func tokenRequest(c *control.Context, r Rule) {
	if _, ok := r.Grants("", []string{"serviceaccounts/token"}, "create"); ok {
		c.Failf(r.Path+".resources", "", "rule %d allows create on serviceaccounts/token: the holder can mint tokens for any service account in scope", r.Index)
	}
}

// verbsOf lists which of want the rule grants, rendering "*" as itself.
func verbsOf(r Rule, want ...string) string {
	for _, v := range r.Verbs {
		if v == "*" {
			return "*"
		}
	}
	var out []string
	for _, w := range want {
		if has(r.Verbs, w) {
			out = append(out, w)
		}
	}
	return strings.Join(out, ", ")
}
