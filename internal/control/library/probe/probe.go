// Package probe holds the catalogue entries of the network exposure
// checks that `rampart probe` evaluates against live endpoints (API
// server, kubelet, etcd, Docker, kubectl proxy, Dashboard, Argo server,
// cloud metadata). Scans do not run them: each control sets External to
// "probe", and the logic lives in internal/probe.
package probe

import (
	_ "embed"

	"github.com/rampart-dev/rampart/internal/control"
)

//go:embed metadata.yaml
var metadata []byte

// IDs are the family's control IDs, in the order probes report them.
var IDs = []string{
	"probe-apiserver-anonymous",
	"probe-apiserver-version",
	"probe-apiserver-insecure-port",
	"probe-kubelet-anonymous",
	"probe-kubelet-exec",
	"probe-kubelet-privileged-containers",
	"probe-kubelet-system-logs",
	"probe-kubelet-cmdline",
	"probe-kubelet-healthz",
	"probe-kubelet-readonly-port",
	"probe-etcd-no-client-auth",
	"probe-etcd-insecure-http",
	"probe-etcd-version",
	"probe-docker-api-exposed",
	"probe-kubectl-proxy-exposed",
	"probe-dashboard-no-login",
	"probe-argo-server-no-auth",
	"probe-cloud-metadata-aws",
	"probe-cloud-metadata-azure",
	"probe-cloud-metadata-gcp",
}

// Controls returns the family's controls with their metadata bound, in
// the order of IDs.
func Controls() ([]*control.Control, error) {
	logic := make([]*control.Control, len(IDs))
	for i, id := range IDs {
		logic[i] = &control.Control{Metadata: control.Metadata{ID: id}, External: "probe"}
	}
	return control.Family(metadata, logic)
}
