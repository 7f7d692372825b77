// Package rbac models Kubernetes RBAC as a permission graph (subject →
// binding → role → rule) and answers three questions about it: who can do
// something (WhoCan), what one subject can do (Permissions), and which
// subjects hold dangerous permissions (Risks).
//
// Semantics mirror the API server's RBAC authorizer
// (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac and
// pkg/apis/rbac/v1 helpers) exactly:
//
//   - A resource request is allowed by a rule when the rule's verbs contain
//     the verb or "*", its apiGroups the group or "*", its resources the
//     resource ("pods"), the resource with subresource ("pods/exec"), "*",
//     or "*/<subresource>" for a request on that subresource; and, when the
//     rule has resourceNames, the request's name is one of them. A request
//     without a name (list, watch, create, deletecollection, or a get
//     without a name) is therefore never allowed by a rule with
//     resourceNames. "pods" does not cover "pods/exec", and "pods/*" is not
//     a pattern (it only matches a literal subresource named "*").
//   - A non-resource request (a URL path such as /healthz) is allowed when
//     the rule's nonResourceURLs contain the path, "*", or a prefix ending
//     in "*" (all trailing stars are trimmed before the prefix test).
//   - ClusterRoleBindings apply to every namespace and to cluster-scoped and
//     non-resource requests. RoleBindings apply only to requests in their own
//     namespace, including when they reference a ClusterRole: a RoleBinding
//     never grants cluster-scoped resources or non-resource URLs. A
//     ClusterRoleBinding referencing a Role is invalid (the API server
//     rejects it) and grants nothing; Rampart reports it as a problem.
//   - A ServiceAccount subject without a namespace in a RoleBinding means the
//     binding's namespace; in a ClusterRoleBinding it matches nothing.
//   - Identities: a ServiceAccount ns/name is the user
//     system:serviceaccount:ns:name in groups system:serviceaccounts,
//     system:serviceaccounts:ns and system:authenticated; a user is in
//     system:authenticated. Bindings to those groups therefore apply to the
//     subject.
//   - system:masters is a superuser group. The API server grants it every
//     request through an authorizer that runs before RBAC, regardless of any
//     binding; Rampart models it explicitly (Superuser) and lists it in
//     every who-can answer with the reason "system:masters (superuser
//     authorizer, not RBAC)".
//   - Aggregated ClusterRoles: the rules of a ClusterRole with an
//     aggregationRule are the union, without duplicates, of the rules of every
//     other ClusterRole matching any of its clusterRoleSelectors, in name
//     order, as the clusterrole-aggregation controller writes them. The rules
//     written in the aggregating role itself are replaced, as the controller
//     replaces them. Aggregation is computed to a fixpoint, so nested
//     aggregation works, and on a live cluster (where the controller has
//     already filled the rules) computing it again changes nothing.
//
// Choices the issue leaves open:
//
//   - who-can without a namespace asks about the cluster-wide request (no
//     namespace), which only ClusterRoleBindings answer, exactly like a
//     SubjectAccessReview without a namespace. With AllNamespaces, grants by
//     RoleBindings of every namespace are listed too, each with its scope.
//   - Risk classification ignores resourceNames when deciding that a rule
//     touches a sensitive resource, but a rule limited to names scores lower
//     and its reason lists the names.
//   - Group subjects of "can group:NAME" are evaluated as an identity that is
//     only in that group (no user name, no system:authenticated), so the
//     answer shows what the group itself is granted.
//   - Other authorizers (Node, webhooks) are not modelled; the Node
//     authorizer only concerns the system:nodes group.
package rbac
