package k8s

// PodSpec is a typed view over the pod template of a pod-bearing object.
type PodSpec struct {
	// Spec is the pod spec map.
	Spec map[string]any
	// Meta is the pod (template) metadata map; may be nil.
	Meta map[string]any
	// Path is the field path of Spec inside the object, e.g. "spec.template.spec".
	Path string
	// MetaPath is the field path of Meta, e.g. "spec.template.metadata".
	MetaPath string
}

// Container is one container, initContainer or ephemeralContainer of a pod spec.
type Container struct {
	// Spec is the container map.
	Spec map[string]any
	// Field is "containers", "initContainers" or "ephemeralContainers".
	Field string
	// Index is the position in its list.
	Index int
	// Name is the container's name.
	Name string
	// Path is the container's field path inside the object.
	Path string
}

// podPaths maps pod-bearing kinds to the path of their pod spec and metadata.
var podPaths = map[string][2]string{
	"Pod":                   {"spec", "metadata"},
	"PodTemplate":           {"template.spec", "template.metadata"},
	"Deployment":            {"spec.template.spec", "spec.template.metadata"},
	"StatefulSet":           {"spec.template.spec", "spec.template.metadata"},
	"DaemonSet":             {"spec.template.spec", "spec.template.metadata"},
	"ReplicaSet":            {"spec.template.spec", "spec.template.metadata"},
	"ReplicationController": {"spec.template.spec", "spec.template.metadata"},
	"Job":                   {"spec.template.spec", "spec.template.metadata"},
	"CronJob":               {"spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"},
}

// PodKinds lists the pod-bearing kinds, the kinds container and pod
// checks apply to.
var PodKinds = []string{"Pod", "PodTemplate", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}

// podSegs holds podPaths pre-split into segments.
var podSegs = func() map[string][2][]string {
	out := make(map[string][2][]string, len(podPaths))
	for k, p := range podPaths {
		out[k] = [2][]string{splitPath(p[0]), splitPath(p[1])}
	}
	return out
}()

// IsPodBearing reports whether kind carries a pod template.
func IsPodBearing(kind string) bool {
	_, ok := podPaths[kind]
	return ok
}

// PodSpecOf returns the pod spec of obj, or false when obj carries none.
func PodSpecOf(obj *Object) (PodSpec, bool) {
	kind := obj.Kind()
	paths, ok := podPaths[kind]
	if !ok {
		return PodSpec{}, false
	}
	segs := podSegs[kind]
	spec := lookupMap(obj.Content, segs[0])
	if spec == nil {
		return PodSpec{}, false
	}
	meta := lookupMap(obj.Content, segs[1])
	return PodSpec{Spec: spec, Meta: meta, Path: paths[0], MetaPath: paths[1]}, true
}

// lookupMap follows path segments through nested maps.
func lookupMap(m map[string]any, segs []string) map[string]any {
	for _, seg := range segs {
		m = Map(m, seg)
		if m == nil {
			return nil
		}
	}
	return m
}

// ContainerFields lists the pod spec fields holding containers, in order.
var ContainerFields = [...]string{"initContainers", "containers", "ephemeralContainers"}

// Containers returns every container, initContainer and ephemeralContainer.
func (p PodSpec) Containers() []Container {
	var out []Container
	for _, f := range ContainerFields {
		for i, item := range Slice(p.Spec, f) {
			c, ok := item.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, Container{
				Spec:  c,
				Field: f,
				Index: i,
				Name:  Str(c, "name"),
				Path:  Index(p.Path+"."+f, i),
			})
		}
	}
	return out
}

// SecurityContext returns the pod-level securityContext (may be nil).
func (p PodSpec) SecurityContext() map[string]any { return Map(p.Spec, "securityContext") }

// Annotations returns the pod template's annotations.
func (p PodSpec) Annotations() map[string]string { return StringMap(p.Meta, "annotations") }

// Labels returns the pod template's labels.
func (p PodSpec) Labels() map[string]string { return StringMap(p.Meta, "labels") }

// Volumes returns the pod's volumes.
func (p PodSpec) Volumes() []map[string]any {
	var out []map[string]any
	for _, v := range Slice(p.Spec, "volumes") {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// SecurityContext returns the container's securityContext (may be nil).
func (c Container) SecurityContext() map[string]any { return Map(c.Spec, "securityContext") }
