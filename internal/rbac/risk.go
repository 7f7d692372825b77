package rbac

import (
	"cmp"
	"slices"
	"strings"
)

// Risk identifiers.
const (
	RiskClusterAdmin    = "cluster-admin"
	RiskEscalate        = "escalate"
	RiskSecretsRead     = "secrets-read"
	RiskPodExec         = "pods-exec"
	RiskCreateWorkloads = "create-workloads"
	RiskNodeProxy       = "nodes-proxy"
	RiskWebhookConfig   = "webhook-config"
	RiskCSRApproval     = "csr-approval"
	RiskTokenRequest    = "token-request"
	RiskWildcard        = "wildcard"
)

// Risk is one dangerous permission a grant carries.
type Risk struct {
	// ID names the kind of risk (RiskSecretsRead, ...).
	ID string `json:"id"`
	// Score orders risks: higher is worse (at most 100).
	Score int `json:"score"`
	// Reason says what the permission allows, and where.
	Reason string `json:"reason"`
	// ClusterWide is true when the grant applies in every namespace.
	ClusterWide bool `json:"clusterWide"`
}

// probe is a request whose permission is risky.
type probe struct {
	id      string
	cluster int // score when cluster-wide
	ns      int // score within one namespace; 0 when a RoleBinding cannot grant it
	what    string
	reqs    []Request
}

func reqs(verbs []string, group string, resources ...string) []Request {
	var out []Request
	for _, res := range resources {
		r, sub, _ := strings.Cut(res, "/")
		for _, v := range verbs {
			out = append(out, Request{Verb: v, APIGroup: group, Resource: r, Subresource: sub})
		}
	}
	return out
}

// WorkloadResources are the resources whose creation runs a pod.
var WorkloadResources = []struct{ Group, Resource string }{
	{"", "pods"}, {"", "replicationcontrollers"}, {"apps", "deployments"}, {"apps", "daemonsets"},
	{"apps", "statefulsets"}, {"apps", "replicasets"}, {"batch", "jobs"}, {"batch", "cronjobs"},
}

var probes = func() []probe {
	var workloads []Request
	for _, w := range WorkloadResources {
		workloads = append(workloads, Request{Verb: "create", APIGroup: w.Group, Resource: w.Resource})
	}
	escalate := append(reqs([]string{"escalate", "bind"}, Group, "roles", "clusterroles"),
		reqs([]string{"impersonate"}, "", "users", "groups", "serviceaccounts")...)
	escalate = append(escalate, reqs([]string{"impersonate"}, "authentication.k8s.io", "userextras/*", "uids")...)
	return []probe{
		{id: RiskEscalate, cluster: 95, ns: 60, what: "can escalate privileges (escalate/bind roles or impersonate)", reqs: escalate},
		{id: RiskNodeProxy, cluster: 85, what: "can use nodes/proxy (kubelet API: exec in any pod on the node)", reqs: reqs([]string{"get", "create"}, "", "nodes/proxy")},
		{id: RiskWebhookConfig, cluster: 85, what: "can change admission webhook configurations", reqs: reqs([]string{"create", "update", "patch"}, "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "validatingwebhookconfigurations")},
		{id: RiskSecretsRead, cluster: 85, ns: 55, what: "can read secrets", reqs: reqs([]string{"get", "list", "watch"}, "", "secrets")},
		{id: RiskTokenRequest, cluster: 80, ns: 55, what: "can mint ServiceAccount tokens", reqs: reqs([]string{"create"}, "", "serviceaccounts/token")},
		{id: RiskCSRApproval, cluster: 75, what: "can approve certificate signing requests", reqs: reqs([]string{"update", "patch"}, "certificates.k8s.io", "certificatesigningrequests/approval")},
		{id: RiskCreateWorkloads, cluster: 75, ns: 50, what: "can create workloads (run pods with any ServiceAccount of the namespace)", reqs: workloads},
		{id: RiskPodExec, cluster: 75, ns: 50, what: "can exec or attach into pods", reqs: reqs([]string{"create", "get"}, "", "pods/exec", "pods/attach")},
	}
}()

// RisksOf returns the risks of one grant (none for the superuser grant, which
// Risks reports separately). Sensitive resources are detected ignoring
// resourceNames; a rule limited to names scores half and names them.
func RisksOf(gr *Grant) []Risk {
	if gr.Rule == nil {
		return []Risk{{ID: RiskClusterAdmin, Score: 100, Reason: "member of system:masters: allowed everything", ClusterWide: true}}
	}
	cluster := gr.Namespace == ""
	where := " in namespace " + gr.Namespace
	if cluster {
		where = " cluster-wide"
	}
	r := *gr.Rule
	names := r.ResourceNames
	r.ResourceNames = nil
	var out []Risk
	if slices.Contains(r.Verbs, All) && slices.Contains(r.APIGroups, All) && slices.Contains(r.Resources, All) {
		score := 100
		if !cluster {
			score = 65
		}
		out = append(out, Risk{ID: RiskClusterAdmin, Score: score, Reason: "full wildcard (cluster-admin)" + where, ClusterWide: cluster})
		return out
	}
	for _, p := range probes {
		score := p.cluster
		if !cluster {
			score = p.ns
		}
		if score == 0 {
			continue
		}
		if !slices.ContainsFunc(p.reqs, func(q Request) bool { q.Namespace = gr.Namespace; return r.Allows(q) }) {
			continue
		}
		reason := p.what + where
		if len(names) > 0 {
			score /= 2
			reason += " (only " + strings.Join(names, ", ") + ")"
		}
		out = append(out, Risk{ID: p.id, Score: score, Reason: reason, ClusterWide: cluster})
	}
	if len(out) == 0 && len(r.Resources) > 0 && (slices.Contains(r.Verbs, All) || slices.Contains(r.Resources, All)) {
		score := 40
		if !cluster {
			score = 25
		}
		out = append(out, Risk{ID: RiskWildcard, Score: score, Reason: "wildcard in verbs or resources" + where, ClusterWide: cluster})
	}
	return out
}

// RiskyGrant is a grant with its risks.
type RiskyGrant struct {
	// Grant is the path to the permission.
	Grant Grant
	// Risks are the dangers of the permission.
	Risks []Risk
}

// SubjectRisk is one subject's risky permissions.
type SubjectRisk struct {
	// Subject is the subject.
	Subject Subject
	// Score is the worst risk's score.
	Score int
	// Grants are the subject's risky grants, worst first.
	Grants []RiskyGrant
}

// Assess returns the risky grants among grants, worst first.
func Assess(grants []Grant) []RiskyGrant {
	var out []RiskyGrant
	for i := range grants {
		if rs := RisksOf(&grants[i]); len(rs) > 0 {
			slices.SortStableFunc(rs, func(a, b Risk) int { return cmp.Compare(b.Score, a.Score) })
			out = append(out, RiskyGrant{Grant: grants[i], Risks: rs})
		}
	}
	slices.SortStableFunc(out, func(a, b RiskyGrant) int { return cmp.Compare(b.Risks[0].Score, a.Risks[0].Score) })
	return out
}

// Risks ranks every subject named by a binding by the risk of its
// effective permissions (including those granted to its groups), worst
// first. Subjects with no risky permission are left out.
func (g *Graph) Risks() []SubjectRisk {
	var out []SubjectRisk
	for _, s := range g.Subjects() {
		id := s.Identity()
		var grants []Grant
		if id.Superuser() {
			grants = append(grants, Grant{Subject: s})
		}
		grants = append(grants, g.Permissions(id)...)
		rg := Assess(grants)
		if len(rg) == 0 {
			continue
		}
		out = append(out, SubjectRisk{Subject: s, Score: rg[0].Risks[0].Score, Grants: rg})
	}
	slices.SortStableFunc(out, func(a, b SubjectRisk) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(len(b.Grants), len(a.Grants)), cmp.Compare(a.Subject.String(), b.Subject.String()))
	})
	return out
}
