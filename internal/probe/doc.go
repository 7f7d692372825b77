// Package probe looks at Kubernetes components the way an attacker on the
// network does: it connects to the API server, the insecure API port,
// kubelets, etcd, the Docker Engine API, kubectl proxy, the Kubernetes
// Dashboard, the Argo Workflows server and (only when asked) the cloud
// metadata service, and reports what answers without credentials.
//
// Every probe is read-only. Requests are GETs, except two read-shaped POSTs:
// a SelfSubjectRulesReview to the API server (it asks what the caller may
// do and changes nothing) and etcd's v3 range with count_only (it counts
// keys and returns none). Exec-like kubelet endpoints are only asked about
// a pod that does not exist and without a protocol upgrade, so nothing can
// run: authorization answers before the handler looks for the pod, and
// that answer is the evidence.
//
// Safety: connections go only to the host and port being probed (the
// dialer is pinned to it, environment proxies are ignored), redirects are
// never followed, bodies are read up to a cap, every request has a total
// deadline, and all network operations share one rate limiter.
package probe
