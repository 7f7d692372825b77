// Package workload holds the workload hygiene controls: image references
// (tags, digests, registries), resource requests and limits, health probes,
// service account usage, credentials in environment variables and use of the
// default namespace. Container checks cover containers, initContainers and
// ephemeralContainers of every pod-bearing kind unless a control's
// description says otherwise.
package workload

import (
	_ "embed"
	"sync/atomic"
	"unsafe"

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

// pod is the parsed pod template of one object, shared by the family's
// checks so that the engine's consecutive checks of one object resolve the
// pod spec and its containers once.
type pod struct {
	obj        *k8s.Object
	spec       k8s.PodSpec
	ok         bool
	containers []k8s.Container
}

// podCache holds recently viewed pods in slots chosen by object address, so
// that concurrent workers scanning different objects rarely evict each
// other. Entries are immutable once stored; a slot pins its object, so an
// address cannot be reused while cached.
var podCache [64]atomic.Pointer[pod]

// podOf returns the pod view of obj.
func podOf(obj *k8s.Object) *pod {
	slot := &podCache[(uintptr(unsafe.Pointer(obj))>>5)%uintptr(len(podCache))]
	if p := slot.Load(); p != nil && p.obj == obj {
		return p
	}
	p := &pod{obj: obj}
	p.spec, p.ok = k8s.PodSpecOf(obj)
	if p.ok {
		p.containers = p.spec.Containers()
	}
	slot.Store(p)
	return p
}

// podControl builds a control over pod specs.
func podControl(id string, check func(c *control.Context, p *pod)) *control.Control {
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    PodKinds,
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

// withMatch narrows c to the objects match accepts.
func withMatch(c *control.Control, match func(*k8s.Object) bool) *control.Control {
	c.Match = match
	return c
}
