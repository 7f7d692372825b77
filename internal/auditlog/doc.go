// Package auditlog is the Kubernetes audit-log stream of Rampart's runtime
// detection: it decodes audit.k8s.io/v1 Events and EventLists, exposes them
// to the rules of internal/detect (Source), enriches alerts with the
// cluster's inventory (Inventory: client-go informers, the RBAC graph of
// internal/rbac), keeps the usual-reader baseline of secrets (Baseline),
// and reads events from the API server's webhook backend (Server: HTTPS,
// bounded queue, counted drops) or from log files (Follow through rotation,
// Replay once).
package auditlog
