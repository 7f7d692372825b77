package auditlog

import (
	"encoding/json"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-dev/rampart/internal/detect"
)

// Lookup answers the questions enrichment asks of a cluster's inventory.
// Inventory implements it with informers; tests use fakes.
type Lookup interface {
	// Pod returns the pod ns/name, when known.
	Pod(ns, name string) (*corev1.Pod, bool)
	// Workload returns the top-level owner of a pod (ReplicaSet →
	// Deployment and Job → CronJob resolved); the pod itself when it has
	// no controller.
	Workload(pod *corev1.Pod) (kind, name string)
	// Exposure lists what exposes the pod outside the cluster: Services of
	// type LoadBalancer or NodePort selecting it, Ingresses routing to a
	// Service selecting it.
	Exposure(pod *corev1.Pod) []string
	// Risks returns the risky permissions of ServiceAccount ns/name.
	Risks(ns, name string) []string
	// PodServiceAccount reports whether a pod of ns runs as
	// ServiceAccount sa.
	PodServiceAccount(ns, sa string) bool
}

// VulnCounts returns an image's known vulnerabilities by severity, or nil
// when the image was not scanned.
type VulnCounts func(image string) map[string]int

// Enricher builds the Context of an audit alert.
type Enricher struct {
	// Lookup is the cluster inventory; nil without a kubeconfig.
	Lookup Lookup
	// Cluster names the cluster (kubeconfig context).
	Cluster string
	// Vulns reports image vulnerabilities, when known.
	Vulns VulnCounts
}

// podNameExtra is the user extra of a bound ServiceAccount token naming
// the pod the token was issued to.
const podNameExtra = "authentication.kubernetes.io/pod-name"

// ServiceAccountOf returns the namespace and name of a ServiceAccount user
// name (system:serviceaccount:NS:NAME).
func ServiceAccountOf(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}

// Context returns the context of an alert on ev.
func (e *Enricher) Context(ev *Event) detect.Context {
	c := detect.Context{Cluster: e.Cluster, Namespace: ev.Namespace()}
	saNS, saName, isSA := ServiceAccountOf(ev.User.Username)
	podNS, podName := e.podOf(ev, saNS, isSA)
	if podName != "" {
		c.Namespace = podNS
		c.Pod = podName
		pod, how := e.findPod(ev, podNS, podName)
		if pod == nil {
			c.Image = "<unknown: pod " + podNS + "/" + podName + " not found>"
			c.Notes = append(c.Notes, "pod "+podNS+"/"+podName+" is neither in the inventory nor in the event")
		} else {
			if how != "" {
				c.Notes = append(c.Notes, how)
			}
			e.fromPod(&c, pod, execContainer(ev))
		}
		return c
	}
	if isSA {
		c.ServiceAccount = saNS + "/" + saName
		if e.Lookup != nil {
			c.ServiceAccountRisks = e.Lookup.Risks(saNS, saName)
		}
	}
	return c
}

// podOf returns the pod an event concerns: the pod of a pods request
// (subresources included; for a create, the name from the response or the
// request), or else the pod a bound ServiceAccount token belongs to.
func (e *Enricher) podOf(ev *Event, saNS string, isSA bool) (ns, name string) {
	if r := ev.ObjectRef; r != nil && r.Resource == "pods" && r.APIGroup == "" {
		name = r.Name
		if name == "" && ev.Verb == "create" {
			for _, get := range []func() (map[string]any, error){ev.ResponseObj, ev.RequestObj} {
				if m, _ := get(); m != nil {
					if md, ok := m["metadata"].(map[string]any); ok {
						if n, _ := md["name"].(string); n != "" {
							name = n
							break
						}
					}
				}
			}
		}
		if name != "" {
			return r.Namespace, name
		}
	}
	if isSA {
		if pods := ev.User.Extra[podNameExtra]; len(pods) == 1 {
			return saNS, pods[0]
		}
	}
	return "", ""
}

// findPod finds the pod in the inventory, else in the event's response or
// request object; how says where it came from when not the inventory.
func (e *Enricher) findPod(ev *Event, ns, name string) (*corev1.Pod, string) {
	if e.Lookup != nil {
		if p, ok := e.Lookup.Pod(ns, name); ok {
			return p, ""
		}
	}
	if r := ev.ObjectRef; r == nil || r.Resource != "pods" || r.Subresource != "" {
		return nil, ""
	}
	for _, src := range []struct {
		raw  []byte
		what string
	}{{ev.ResponseObject, "response"}, {ev.RequestObject, "request"}} {
		if len(src.raw) == 0 {
			continue
		}
		var p corev1.Pod
		if err := json.Unmarshal(src.raw, &p); err != nil || p.Kind != "Pod" {
			continue
		}
		if p.Name == "" {
			p.Name = name
		}
		if p.Namespace == "" {
			p.Namespace = ns
		}
		if p.Name != name {
			continue
		}
		return &p, "pod taken from the audit event's " + src.what + " object (not yet in the inventory)"
	}
	return nil, ""
}

// execContainer returns the container named by an exec, attach or
// port-forward request (?container=), or "".
func execContainer(ev *Event) string {
	if ev.Subresource() == "" {
		return ""
	}
	_, q, ok := strings.Cut(ev.RequestURI, "?")
	if !ok {
		return ""
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	return v.Get("container")
}

func (e *Enricher) fromPod(c *detect.Context, pod *corev1.Pod, container string) {
	c.Node = pod.Spec.NodeName
	c.WorkloadKind, c.WorkloadName = "Pod", pod.Name
	if e.Lookup != nil {
		c.WorkloadKind, c.WorkloadName = e.Lookup.Workload(pod)
	} else if ref := controllerOf(pod.OwnerReferences); ref != nil {
		c.WorkloadKind, c.WorkloadName = ref.Kind, ref.Name
		c.Notes = append(c.Notes, "workload is the pod's direct controller (no inventory to resolve its owners)")
	}
	all := append(append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...), ephemeral(pod)...)
	var chosen *corev1.Container
	for i := range all {
		if all[i].Name == container {
			chosen = &all[i]
		}
	}
	if chosen == nil && len(pod.Spec.Containers) > 0 {
		chosen = &pod.Spec.Containers[0]
	}
	if chosen != nil {
		c.Container = chosen.Name
		c.Image = chosen.Image
		c.ImageDigest = digestOf(pod, chosen)
	}
	if len(pod.Spec.Containers)+len(pod.Spec.InitContainers) > 1 {
		for _, ct := range all {
			c.Images = append(c.Images, ct.Name+"="+ct.Image)
		}
	}
	if c.Image == "" {
		c.Image = "<unknown: pod has no containers>"
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	c.ServiceAccount = pod.Namespace + "/" + sa
	if e.Lookup != nil {
		c.ServiceAccountRisks = e.Lookup.Risks(pod.Namespace, sa)
		c.Exposure = e.Lookup.Exposure(pod)
	}
	if e.Vulns != nil {
		c.Vulnerabilities = e.Vulns(c.Image)
	}
}

func ephemeral(pod *corev1.Pod) []corev1.Container {
	var out []corev1.Container
	for _, ec := range pod.Spec.EphemeralContainers {
		out = append(out, corev1.Container(ec.EphemeralContainerCommon))
	}
	return out
}

// digestOf returns the image digest of a container: from its image
// reference when pinned, else from the pod status's imageID.
func digestOf(pod *corev1.Pod, ct *corev1.Container) string {
	if _, d, ok := strings.Cut(ct.Image, "@"); ok {
		return d
	}
	statuses := append(append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...), pod.Status.EphemeralContainerStatuses...)
	for _, s := range statuses {
		if s.Name != ct.Name || s.ImageID == "" {
			continue
		}
		if i := strings.LastIndex(s.ImageID, "@"); i >= 0 {
			return s.ImageID[i+1:]
		}
		if strings.HasPrefix(s.ImageID, "sha256:") {
			return s.ImageID
		}
	}
	return ""
}
