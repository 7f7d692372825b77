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

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

// pod is the pod template of one object with its containers resolved.
type pod struct {
	spec       k8s.PodSpec
	ok         bool
	containers []k8s.Container
}

// podOf returns the pod view of obj; ok is false when obj carries no pod spec.
func podOf(obj *k8s.Object) *pod {
	p := &pod{}
	p.spec, p.ok = k8s.PodSpecOf(obj)
	if p.ok {
		p.containers = p.spec.Containers()
	}
	return p
}

// podControl builds a control over pod specs.
func podControl(id string, check func(c *control.Context, p *pod)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    k8s.PodKinds,
		Check: func(c *control.Context) {
			if p := podOf(c.Obj); p.ok {
				check(c, p)
			}
		},
	}
}

func logic() []*control.Control {
	return []*control.Control{
		podControl("image-tag-latest", imageTagLatest),
		podControl("image-not-pinned", imageNotPinned),
		podControl("untrusted-registry", untrustedRegistry),
		podControl("missing-resource-limits", missingLimits),
		podControl("missing-resource-requests", missingRequests),
		withMatch(podControl("missing-probes", missingProbes), longRunning),
		podControl("service-account-token-automount", tokenAutomount),
		podControl("default-service-account", defaultServiceAccount),
		podControl("hardcoded-secret-in-env", hardcodedSecretInEnv),
		podControl("secret-in-env-var", secretInEnvVar),
		{
			Metadata:     control.Metadata{ID: "default-namespace"},
			Match:        func(o *k8s.Object) bool { return !k8s.IsClusterScoped(o.Kind()) },
			Check:        defaultNamespace,
			MetadataOnly: true,
		},
	}
}

// defaultNamespace fails namespaced objects placed explicitly in "default".
func defaultNamespace(c *control.Context) {
	if c.Obj.Namespace() == "default" {
		c.Failf("metadata.namespace", "", "%s %q is placed in the default namespace", c.Obj.Kind(), c.Obj.Name())
	}
}

// withMatch narrows c to the objects match accepts.
func withMatch(c *control.Control, match func(*k8s.Object) bool) *control.Control {
	c.Match = match
	return c
}
