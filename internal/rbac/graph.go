package rbac

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Group is the RBAC API group.
const Group = "rbac.authorization.k8s.io"

// Well-known groups.
const (
	// Masters is the superuser group, allowed everything by the API
	// server's privileged-group authorizer before RBAC is consulted.
	Masters = "system:masters"
	// Authenticated holds every authenticated user.
	Authenticated = "system:authenticated"
	// ServiceAccounts holds every ServiceAccount.
	ServiceAccounts = "system:serviceaccounts"
)

// Subject kinds, as RBAC bindings spell them.
const (
	KindUser           = "User"
	KindGroup          = "Group"
	KindServiceAccount = "ServiceAccount"
)

// Subject is a binding subject: a user, a group or a ServiceAccount.
type Subject struct {
	// Kind is User, Group or ServiceAccount.
	Kind string `json:"kind"`
	// Name is the user, group or ServiceAccount name.
	Name string `json:"name"`
	// Namespace is the ServiceAccount's namespace.
	Namespace string `json:"namespace,omitempty"`
}

// String formats s as the CLI accepts it: user:NAME, group:NAME, sa:NS:NAME.
func (s Subject) String() string {
	switch s.Kind {
	case KindServiceAccount:
		return "sa:" + s.Namespace + ":" + s.Name
	case KindGroup:
		return "group:" + s.Name
	case KindUser:
		return "user:" + s.Name
	}
	return strings.ToLower(s.Kind) + ":" + s.Name
}

// ParseSubject parses user:NAME, group:NAME or sa:NS:NAME (also
// serviceaccount:NS:NAME and the username form system:serviceaccount:NS:NAME).
func ParseSubject(s string) (Subject, error) {
	if rest, ok := strings.CutPrefix(s, "system:serviceaccount:"); ok {
		s = "sa:" + rest
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Subject{}, fmt.Errorf("subject %q: want user:NAME, group:NAME or sa:NAMESPACE:NAME", s)
	}
	switch kind {
	case "user", "User":
		return Subject{Kind: KindUser, Name: rest}, nil
	case "group", "Group":
		return Subject{Kind: KindGroup, Name: rest}, nil
	case "sa", "serviceaccount", "ServiceAccount":
		ns, name, ok := strings.Cut(rest, ":")
		if !ok || ns == "" || name == "" {
			return Subject{}, fmt.Errorf("subject %q: want sa:NAMESPACE:NAME", s)
		}
		return Subject{Kind: KindServiceAccount, Namespace: ns, Name: name}, nil
	}
	return Subject{}, fmt.Errorf("subject %q: unknown kind %q (want user, group or sa)", s, kind)
}

// Identity is what the authorizer sees of a requester: a user name and
// groups.
type Identity struct {
	// User is the user name ("" for a group-only identity).
	User string `json:"user,omitempty"`
	// Groups are the user's groups.
	Groups []string `json:"groups,omitempty"`
}

// ServiceAccountUser returns the user name of ServiceAccount ns/name.
func ServiceAccountUser(ns, name string) string {
	return "system:serviceaccount:" + ns + ":" + name
}

// Identity returns the identity the API server gives s: a ServiceAccount's
// user name and its three groups, a user in system:authenticated, or an
// identity in group s.Name only.
func (s Subject) Identity() Identity {
	switch s.Kind {
	case KindServiceAccount:
		return Identity{User: ServiceAccountUser(s.Namespace, s.Name),
			Groups: []string{ServiceAccounts, ServiceAccounts + ":" + s.Namespace, Authenticated}}
	case KindUser:
		return Identity{User: s.Name, Groups: []string{Authenticated}}
	case KindGroup:
		return Identity{Groups: []string{s.Name}}
	}
	return Identity{}
}

// Superuser reports whether id is in system:masters.
func (id Identity) Superuser() bool { return slices.Contains(id.Groups, Masters) }

// Role is a Role or ClusterRole.
type Role struct {
	// Kind is Role or ClusterRole.
	Kind string `json:"kind"`
	// Namespace is a Role's namespace.
	Namespace string `json:"namespace,omitempty"`
	// Name is the role's name.
	Name string `json:"name"`
	// Labels are the role's labels (aggregation selects on them).
	Labels map[string]string `json:"-"`
	// Written are the rules as written in the object.
	Written []Rule `json:"-"`
	// Rules are the effective rules: Written, or for an aggregating
	// ClusterRole the aggregated union.
	Rules []Rule `json:"-"`
	// Selectors are the clusterRoleSelectors of an aggregationRule; nil
	// when the role does not aggregate.
	Selectors []map[string]any `json:"-"`
	// Aggregating is true when the role has an aggregationRule.
	Aggregating bool `json:"-"`
	// Source is where the role was read.
	Source k8s.Source `json:"-"`
}

// String names the role, like ClusterRole/edit or Role/ns/name.
func (r *Role) String() string {
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

// RoleRef names the role a binding grants.
type RoleRef struct {
	// Kind is Role or ClusterRole.
	Kind string `json:"kind"`
	// Name is the role's name.
	Name string `json:"name"`
}

// Binding is a RoleBinding or ClusterRoleBinding.
type Binding struct {
	// Kind is RoleBinding or ClusterRoleBinding.
	Kind string `json:"kind"`
	// Namespace is a RoleBinding's namespace.
	Namespace string `json:"namespace,omitempty"`
	// Name is the binding's name.
	Name string `json:"name"`
	// RoleRef is the role granted.
	RoleRef RoleRef `json:"roleRef"`
	// Subjects are the subjects granted the role.
	Subjects []Subject `json:"subjects"`
	// Source is where the binding was read.
	Source k8s.Source `json:"-"`
	// role is the resolved role, nil when missing or invalid.
	role *Role
}

// String names the binding, like ClusterRoleBinding/x or RoleBinding/ns/x.
func (b *Binding) String() string {
	if b.Namespace != "" {
		return b.Kind + "/" + b.Namespace + "/" + b.Name
	}
	return b.Kind + "/" + b.Name
}

// Role returns the role the binding resolves to, nil when it is missing or
// the reference is invalid.
func (b *Binding) Role() *Role { return b.role }

// Graph is the resolved RBAC policy of one set of objects.
type Graph struct {
	// Roles are every Role and ClusterRole, sorted.
	Roles []*Role
	// Bindings are every binding, ClusterRoleBindings first, sorted.
	Bindings []*Binding
	// Problems lists references that resolve to nothing or are invalid.
	Problems []string

	roles    map[string]*Role
	byUser   map[string][]int      // user name (ServiceAccounts resolved) -> indexes into Bindings
	byGroup  map[string][]int      // group name -> indexes into Bindings
	cluster  []*Binding            // ClusterRoleBindings
	byNS     map[string][]*Binding // RoleBindings by namespace
	nsSorted []string
}

// Builder collects RBAC objects and builds a Graph.
type Builder struct {
	roles    []*Role
	bindings []*Binding
}

// Add records obj when it is a Role, ClusterRole, RoleBinding or
// ClusterRoleBinding of the RBAC API group, and reports whether it did.
func (b *Builder) Add(obj *k8s.Object) bool {
	return b.AddContent(obj.Content, obj.Source)
}

// AddContent is Add for unstructured content.
func (b *Builder) AddContent(c map[string]any, src k8s.Source) bool {
	group, _, _ := strings.Cut(k8s.Str(c, "apiVersion"), "/")
	if group != Group {
		return false
	}
	md := k8s.Map(c, "metadata")
	ns, name := k8s.Str(md, "namespace"), k8s.Str(md, "name")
	switch kind := k8s.Str(c, "kind"); kind {
	case "Role", "ClusterRole":
		r := &Role{Kind: kind, Name: name, Labels: k8s.StringMap(md, "labels"), Source: src}
		if kind == "Role" {
			r.Namespace = ns
		}
		for _, it := range k8s.Slice(c, "rules") {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			r.Written = append(r.Written, Rule{
				Verbs:           k8s.Strings(m, "verbs"),
				APIGroups:       k8s.Strings(m, "apiGroups"),
				Resources:       k8s.Strings(m, "resources"),
				ResourceNames:   k8s.Strings(m, "resourceNames"),
				NonResourceURLs: k8s.Strings(m, "nonResourceURLs"),
			})
		}
		if ar := k8s.Map(c, "aggregationRule"); kind == "ClusterRole" && ar != nil {
			r.Aggregating = true
			for _, s := range k8s.Slice(ar, "clusterRoleSelectors") {
				if m, ok := s.(map[string]any); ok {
					r.Selectors = append(r.Selectors, m)
				} else if s == nil {
					r.Selectors = append(r.Selectors, map[string]any{})
				}
			}
		}
		b.roles = append(b.roles, r)
	case "RoleBinding", "ClusterRoleBinding":
		rb := &Binding{Kind: kind, Name: name, Source: src}
		if kind == "RoleBinding" {
			rb.Namespace = ns
		}
		ref := k8s.Map(c, "roleRef")
		rb.RoleRef = RoleRef{Kind: k8s.Str(ref, "kind"), Name: k8s.Str(ref, "name")}
		for _, it := range k8s.Slice(c, "subjects") {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			rb.Subjects = append(rb.Subjects, Subject{Kind: k8s.Str(m, "kind"), Name: k8s.Str(m, "name"), Namespace: k8s.Str(m, "namespace")})
		}
		b.bindings = append(b.bindings, rb)
	default:
		return false
	}
	return true
}

func roleKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// Build resolves aggregation and role references and returns the Graph.
func (b *Builder) Build() *Graph {
	g := &Graph{roles: map[string]*Role{}, byNS: map[string][]*Binding{}}
	pos := map[string]int{}
	for _, r := range b.roles {
		k := roleKey(r.Kind, r.Namespace, r.Name)
		r.Rules = r.Written
		g.roles[k] = r
		if i, dup := pos[k]; dup {
			g.Problems = append(g.Problems, fmt.Sprintf("%s is defined twice; the last definition is used", r))
			g.Roles[i] = r
			continue
		}
		pos[k] = len(g.Roles)
		g.Roles = append(g.Roles, r)
	}
	slices.SortFunc(g.Roles, func(a, b *Role) int {
		return cmp.Or(cmp.Compare(b.Kind, a.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	g.aggregate()
	for _, rb := range b.bindings {
		switch {
		case rb.RoleRef.Kind == "ClusterRole":
			rb.role = g.roles[roleKey("ClusterRole", "", rb.RoleRef.Name)]
		case rb.RoleRef.Kind == "Role" && rb.Kind == "RoleBinding":
			rb.role = g.roles[roleKey("Role", rb.Namespace, rb.RoleRef.Name)]
		case rb.RoleRef.Kind == "Role":
			g.Problems = append(g.Problems, fmt.Sprintf("%s references Role %s: a ClusterRoleBinding can only reference a ClusterRole, so it grants nothing", rb, rb.RoleRef.Name))
		default:
			g.Problems = append(g.Problems, fmt.Sprintf("%s references unknown role kind %q", rb, rb.RoleRef.Kind))
		}
		if rb.role == nil && (rb.RoleRef.Kind == "ClusterRole" || rb.Kind == "RoleBinding" && rb.RoleRef.Kind == "Role") {
			g.Problems = append(g.Problems, fmt.Sprintf("%s references %s %s, which is not in the input: it grants nothing here", rb, rb.RoleRef.Kind, rb.RoleRef.Name))
		}
		g.Bindings = append(g.Bindings, rb)
	}
	slices.SortFunc(g.Bindings, func(a, b *Binding) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	g.byUser, g.byGroup = map[string][]int{}, map[string][]int{}
	for i, rb := range g.Bindings {
		for _, s := range rb.Subjects {
			switch s.Kind {
			case KindUser:
				g.byUser[s.Name] = appendOnce(g.byUser[s.Name], i)
			case KindGroup:
				g.byGroup[s.Name] = appendOnce(g.byGroup[s.Name], i)
			case KindServiceAccount:
				if ns := cmp.Or(s.Namespace, rb.Namespace); ns != "" {
					u := ServiceAccountUser(ns, s.Name)
					g.byUser[u] = appendOnce(g.byUser[u], i)
				}
			}
		}
		if rb.Kind == "ClusterRoleBinding" {
			g.cluster = append(g.cluster, rb)
		} else {
			if _, ok := g.byNS[rb.Namespace]; !ok {
				g.nsSorted = append(g.nsSorted, rb.Namespace)
			}
			g.byNS[rb.Namespace] = append(g.byNS[rb.Namespace], rb)
		}
	}
	slices.Sort(g.nsSorted)
	slices.Sort(g.Problems)
	return g
}

// aggregate fills the rules of aggregating ClusterRoles as the
// clusterrole-aggregation controller does, repeating until nothing changes
// so that aggregated roles aggregating others settle.
func (g *Graph) aggregate() {
	var aggregating, clusterRoles []*Role
	for _, r := range g.Roles {
		if r.Kind != "ClusterRole" {
			continue
		}
		clusterRoles = append(clusterRoles, r)
		if r.Aggregating {
			aggregating = append(aggregating, r)
		}
	}
	if len(aggregating) == 0 {
		return
	}
	// clusterRoles are sorted by name (Roles sort ClusterRoles by name).
	for range len(aggregating) + 1 {
		changed := false
		for _, agg := range aggregating {
			var rules []Rule
			for _, sel := range agg.Selectors {
				for _, cr := range clusterRoles {
					if cr == agg || !k8s.MatchLabelSelector(sel, cr.Labels) {
						continue
					}
					for i := range cr.Rules {
						if !slices.ContainsFunc(rules, func(x Rule) bool { return x.equal(&cr.Rules[i]) }) {
							rules = append(rules, cr.Rules[i])
						}
					}
				}
			}
			if !slices.EqualFunc(rules, agg.Rules, func(a, b Rule) bool { return a.equal(&b) }) {
				agg.Rules, changed = rules, true
			}
		}
		if !changed {
			return
		}
	}
}

// appliesTo reports whether subject s of a binding in namespace ns (""
// for a ClusterRoleBinding) names id, as the authorizer's appliesToUser does.
func appliesTo(id Identity, s Subject, ns string) bool {
	switch s.Kind {
	case KindUser:
		return id.User == s.Name
	case KindGroup:
		return slices.Contains(id.Groups, s.Name)
	case KindServiceAccount:
		saNS := cmp.Or(s.Namespace, ns)
		return saNS != "" && id.User == ServiceAccountUser(saNS, s.Name)
	}
	return false
}

// Grant is one path by which a subject holds a permission: subject →
// binding → role → rule.
type Grant struct {
	// Subject is the binding's subject (for a ServiceAccount without a
	// namespace in a RoleBinding, the binding's namespace is filled in).
	Subject Subject `json:"subject"`
	// Binding grants the role; nil for the system:masters superuser.
	Binding *Binding `json:"-"`
	// Role is the granted role; nil for the superuser.
	Role *Role `json:"-"`
	// RuleIndex is the rule's position in the role's effective rules.
	RuleIndex int `json:"ruleIndex"`
	// Rule is the rule, nil for the superuser.
	Rule *Rule `json:"-"`
	// Namespace is where the grant applies: a RoleBinding's namespace, or
	// "" for every namespace and the cluster.
	Namespace string `json:"namespace,omitempty"`
}

// SuperuserReason explains grants to system:masters.
const SuperuserReason = "system:masters (superuser authorizer, not RBAC)"

// Path formats the grant as subject → binding → role → rule.
func (gr *Grant) Path() string {
	if gr.Binding == nil {
		return gr.Subject.String() + " → " + SuperuserReason
	}
	role := gr.Binding.RoleRef.Kind + "/" + gr.Binding.RoleRef.Name
	if gr.Role != nil {
		role = gr.Role.String()
	}
	s := gr.Subject.String() + " → " + gr.Binding.String() + " → " + role
	if gr.Rule != nil {
		s += fmt.Sprintf(" → rules[%d] %s", gr.RuleIndex, gr.Rule)
		if gr.Role != nil && gr.Role.Aggregating {
			s += " (aggregated)"
		}
	}
	return s
}

// candidates returns the bindings that can apply to a request in ns: every
// ClusterRoleBinding, and RoleBindings of ns when ns is set.
func (g *Graph) candidates(ns string, fn func(*Binding) bool) {
	for _, rb := range g.cluster {
		if !fn(rb) {
			return
		}
	}
	if ns == "" {
		return
	}
	for _, rb := range g.byNS[ns] {
		if !fn(rb) {
			return
		}
	}
}

// Allowed reports whether id may make req, and by which grant, as the API
// server's authorizer chain (system:masters, then RBAC) decides.
func (g *Graph) Allowed(id Identity, req Request) (bool, *Grant) {
	if id.Superuser() {
		return true, &Grant{Subject: Subject{Kind: KindGroup, Name: Masters}}
	}
	var found *Grant
	ns := req.Namespace
	if !req.IsResource() {
		ns = ""
	}
	g.candidates(ns, func(rb *Binding) bool {
		if rb.role == nil {
			return true
		}
		si := slices.IndexFunc(rb.Subjects, func(s Subject) bool { return appliesTo(id, s, rb.Namespace) })
		if si < 0 {
			return true
		}
		for i := range rb.role.Rules {
			if rb.role.Rules[i].Allows(req) {
				found = &Grant{Subject: fillNS(rb.Subjects[si], rb.Namespace), Binding: rb, Role: rb.role, RuleIndex: i, Rule: &rb.role.Rules[i], Namespace: rb.Namespace}
				return false
			}
		}
		return true
	})
	return found != nil, found
}

func fillNS(s Subject, ns string) Subject {
	if s.Kind == KindServiceAccount && s.Namespace == "" {
		s.Namespace = ns
	}
	return s
}

// WhoCan lists the subjects allowed to make req, each with the first rule
// of each binding that allows it. The superuser group system:masters comes
// first. With allNamespaces and no namespace in req, RoleBindings of every
// namespace are considered as well (each grant says its namespace).
func (g *Graph) WhoCan(req Request, allNamespaces bool) []Grant {
	out := []Grant{{Subject: Subject{Kind: KindGroup, Name: Masters}}}
	emit := func(rb *Binding, r Request) {
		if rb.role == nil {
			return
		}
		for i := range rb.role.Rules {
			if !rb.role.Rules[i].Allows(r) {
				continue
			}
			for _, s := range rb.Subjects {
				if rb.Kind == "ClusterRoleBinding" && s.Kind == KindServiceAccount && s.Namespace == "" {
					continue // matches nothing
				}
				out = append(out, Grant{Subject: fillNS(s, rb.Namespace), Binding: rb, Role: rb.role, RuleIndex: i, Rule: &rb.role.Rules[i], Namespace: rb.Namespace})
			}
			return
		}
	}
	if !req.IsResource() {
		req.Namespace = ""
	}
	if req.Namespace == "" && allNamespaces && req.IsResource() {
		for _, rb := range g.cluster {
			emit(rb, req)
		}
		for _, ns := range g.nsSorted {
			r := req
			r.Namespace = ns
			for _, rb := range g.byNS[ns] {
				emit(rb, r)
			}
		}
		return out
	}
	g.candidates(req.Namespace, func(rb *Binding) bool { emit(rb, req); return true })
	return out
}

// appendOnce appends binding index i unless it is already last (a binding
// naming a subject twice).
func appendOnce(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

// Permissions returns every grant that applies to id: each rule of each
// role bound to id (directly, or through its groups), with the binding's
// scope, in binding order. Bindings are found through the subject index, so
// the cost grows with the subject's bindings, not with the whole graph.
func (g *Graph) Permissions(id Identity) []Grant {
	idx := slices.Clone(g.byUser[id.User])
	for _, grp := range id.Groups {
		idx = append(idx, g.byGroup[grp]...)
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var out []Grant
	for _, bi := range idx {
		rb := g.Bindings[bi]
		if rb.role == nil {
			continue
		}
		si := slices.IndexFunc(rb.Subjects, func(s Subject) bool { return appliesTo(id, s, rb.Namespace) })
		if si < 0 {
			continue
		}
		for i := range rb.role.Rules {
			out = append(out, Grant{Subject: fillNS(rb.Subjects[si], rb.Namespace), Binding: rb, Role: rb.role, RuleIndex: i, Rule: &rb.role.Rules[i], Namespace: rb.Namespace})
		}
	}
	return out
}

// Subjects returns every distinct subject named by a binding, sorted.
func (g *Graph) Subjects() []Subject {
	seen := map[Subject]bool{}
	var out []Subject
	for _, rb := range g.Bindings {
		for _, s := range rb.Subjects {
			s = fillNS(s, rb.Namespace)
			if s.Kind == KindServiceAccount && s.Namespace == "" {
				continue
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b Subject) int { return cmp.Compare(a.String(), b.String()) })
	return out
}
