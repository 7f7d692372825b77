// Package pss holds the pod security controls: the checks of the Pod
// Security Standards (baseline and restricted) over every container,
// initContainer and ephemeralContainer of every pod-bearing kind, plus the
// related hardening checks (runtime sockets, read-only root filesystem).
package pss

import (
	_ "embed"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// PodKinds are the kinds these controls apply to.
var PodKinds = []string{"Pod", "PodTemplate", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	meta, err := control.ParseMetadata(metadata)
	if err != nil {
		return nil, err
	}
	return control.Bind(meta, logic())
}

// podControl builds a control over pod specs.
func podControl(id string, check func(c *control.Context, ps k8s.PodSpec)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    PodKinds,
		Check: func(c *control.Context) {
			if ps, ok := k8s.PodSpecOf(c.Obj); ok {
				check(c, ps)
			}
		},
	}
}

func logic() []*control.Control {
	return []*control.Control{
		podControl("privileged-container", privileged),
	}
}

func privileged(c *control.Context, ps k8s.PodSpec) {
	for _, ct := range ps.Containers() {
		if v, _ := k8s.Bool(ct.SecurityContext(), "privileged"); v {
			c.Failf(ct.Path+".securityContext.privileged", ct.Name, "container %q runs privileged: it has every capability and full access to the host's devices", ct.Name)
		}
	}
}
