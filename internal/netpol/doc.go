// Package netpol analyses Kubernetes NetworkPolicies: which pods are
// isolated (coverage), whether traffic between two endpoints is allowed and
// by which rules (reach), and default-deny policies to start from (suggest).
//
// # Semantics
//
// The analysis follows the networking.k8s.io/v1 NetworkPolicy API:
//
//   - A pod is isolated for a direction iff some policy of its namespace
//     selects it (spec.podSelector; a missing one selects every pod) with
//     that direction in its policyTypes. Unisolated directions allow
//     everything; isolated ones allow only what some rule of some selecting
//     policy allows (rules are additive, never subtractive).
//   - policyTypes defaults as the API server does: [Ingress], plus Egress
//     when spec.egress is non-empty (an empty egress list adds nothing).
//   - Traffic between two pods passes iff the source's egress side and the
//     destination's ingress side both allow it.
//   - An empty or missing from/to matches every source/destination; an
//     empty or missing ports list matches every port of every protocol; an
//     empty rule list in an isolated direction denies everything.
//   - A peer with only podSelector matches pods of the policy's namespace; with
//     only namespaceSelector, every pod of the matching namespaces; with both,
//     the matching pods of the matching namespaces (AND). Peers of a rule are
//     ORed, as are its ports.
//   - ipBlock matches cidr minus except. Named ports resolve against the
//     destination pod's container ports with the same name and protocol (for
//     ingress the selected pod, for egress the peer); towards an external
//     destination a named port matches nothing. endPort makes a range.
//     Protocols are TCP (default), UDP and SCTP.
//
// # Choices the API leaves open
//
//   - Endpoints. A workload (NAMESPACE/KIND/NAME) stands for its pods, which
//     carry the pod template's labels and ports. A namespace stands for every
//     workload in it, each evaluated separately; an empty namespace stands for
//     one unlabelled pod. A CIDR or IP address is a cluster-external endpoint:
//     it matches ipBlock peers and never pod or namespace selectors, and no
//     policy applies on its side.
//   - Pod IPs are unknown in manifests, so ipBlock peers never match pod
//     endpoints. Some network plugins do match pod IPs against ipBlock; reach
//     adds a note when an ipBlock rule was skipped for a pod endpoint.
//   - A CIDR endpoint is allowed when every address of it is, partial when
//     only some are (the union of all matching ipBlocks is computed exactly,
//     per port).
//   - Without a port, reach lists the ports that pass both sides; its
//     verdict is allowed when every port of every protocol passes, denied when
//     none does, partial otherwise.
//   - Objects without a namespace are in "default". Every namespace carries
//     the kubernetes.io/metadata.name label the API server sets; namespaces no
//     Namespace object declares carry only that label.
//   - Workloads are Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets,
//     ReplicationControllers, Jobs and CronJobs (not PodTemplates). From a
//     cluster, objects controlled by one of these kinds are skipped: their
//     pods are analysed once, through the top-level workload.
//   - DNS. An egress-isolated pod whose egress does not allow UDP and TCP 53
//     to kube-dns (kube-system pods labelled k8s-app=kube-dns: the input's own
//     DNS workload, or a stand-in CoreDNS with ports dns 53/UDP and dns-tcp
//     53/TCP) nor port 53 to some ipBlock (a node-local or external resolver)
//     gets a warning in coverage and reach; UDP without TCP (or the reverse)
//     gets its own warning. Only the source's egress is checked.
//   - Malformed policy parts (a peer with no selector and no ipBlock, ipBlock
//     with a selector, a bad CIDR, port or protocol) match nothing and are
//     reported as warnings, as the API server would have rejected them.
//
// # Suggest
//
// Suggest derives policies from what the input shows: a default deny of
// ingress and egress; DNS egress to kube-dns; for each Service with a
// selector, ingress to its pods on its target ports (from any pod of the
// cluster for ClusterIP Services, from anywhere for NodePort and
// LoadBalancer Services); and egress from the namespace's pods to its own
// Services' pods on those ports. Calls to other namespaces, the API server or
// outside the cluster are not visible in manifests and stay denied until
// rules are added; webhooks and other traffic from the API server or nodes
// may need ipBlock rules.
package netpol
