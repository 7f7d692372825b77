// Package workload holds the workload hygiene controls: image references
// (tags, digests, registries), resource requests and limits, health probes,
// service account usage, credentials in environment variables and use of the
// default namespace. Container checks cover containers, initContainers and
// ephemeralContainers of every pod-bearing kind unless a control's
// description says otherwise.
package workload

import (
	_ "embed"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// PodKinds are the pod-bearing kinds the container and pod checks apply to.
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
		podControl("image-tag-latest", imageTagLatest),
		podControl("image-not-pinned", imageNotPinned),
		{
			Metadata: control.Metadata{ID: "untrusted-registry"},
			Kinds:    PodKinds,
			Check: func(c *control.Context) {
				if ps, ok := k8s.PodSpecOf(c.Obj); ok {
					untrustedRegistry(c, ps)
				}
			},
		},
		podControl("missing-resource-limits", missingLimits),
		podControl("missing-resource-requests", missingRequests),
		{
			Metadata: control.Metadata{ID: "missing-probes"},
			Kinds:    PodKinds,
			Match:    longRunning,
			Check: func(c *control.Context) {
				if ps, ok := k8s.PodSpecOf(c.Obj); ok {
					missingProbes(c, ps)
				}
			},
		},
		podControl("service-account-token-automount", tokenAutomount),
		podControl("default-service-account", defaultServiceAccount),
		podControl("hardcoded-secret-in-env", hardcodedSecretInEnv),
		podControl("secret-in-env-var", secretInEnvVar),
		{
			Metadata: control.Metadata{ID: "default-namespace"},
			Match:    func(o *k8s.Object) bool { return !k8s.IsClusterScoped(o.Kind()) },
			Check:    defaultNamespace,
		},
	}
}

// defaultNamespace fails namespaced objects placed explicitly in "default".
func defaultNamespace(c *control.Context) {
	if c.Obj.Namespace() == "default" {
		c.Failf("metadata.namespace", "", "%s %q is placed in the default namespace", c.Obj.Kind(), c.Obj.Name())
	}
}
