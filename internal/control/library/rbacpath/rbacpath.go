// Package rbacpath holds the controls that follow RBAC from a workload to
// what its ServiceAccount can do: workload-with-privileged-service-account
// joins each workload with the RBAC graph (package rbac) built from the
// Roles and bindings of the same scan, and with the Services and Ingresses
// that expose it.
//
// Choices: a ServiceAccount is privileged when it can read Secrets
// cluster-wide (get, list or watch through a ClusterRoleBinding; a rule
// limited to resourceNames counts), create pods or pod-creating workloads
// in any namespace (a pod it creates may run as any ServiceAccount of that
// namespace), escalate (escalate or bind on roles, impersonate), or holds a
// full wildcard anywhere. Workloads without a namespace are taken to be in
// "default", and so are Roles and RoleBindings without one.
// automountServiceAccountToken is not considered: a pod that
// does not mount the token today is one field away from mounting it, and
// the permissions remain the ServiceAccount's. Exposure: a Service of type
// LoadBalancer or NodePort in the workload's namespace whose selector
// matches its pod labels, or an Ingress whose backend is a Service (any
// type) selecting them.
package rbacpath

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library/supplychain"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/rbac"
)

//go:embed metadata.yaml
var metadata []byte

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, []*control.Control{
		{Metadata: control.Metadata{ID: "workload-with-privileged-service-account"}, Cross: privilegedServiceAccount},
	})
}

// rbacKinds are the kinds the RBAC graph is built from.
var rbacKinds = []string{"ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"}

// maxReasons bounds the permissions a message lists.
const maxReasons = 3

func namespaceOf(ref k8s.Ref) string {
	if ref.Namespace == "" {
		return "default"
	}
	return ref.Namespace
}

// Privileged returns why grants make a ServiceAccount privileged, one
// reason per dangerous grant, worst first.
func Privileged(grants []rbac.Grant) []string {
	var out []string
	for _, rg := range rbac.Assess(grants) {
		for _, r := range rg.Risks {
			switch {
			case r.ID == rbac.RiskClusterAdmin,
				r.ID == rbac.RiskEscalate,
				r.ID == rbac.RiskCreateWorkloads,
				r.ID == rbac.RiskSecretsRead && r.ClusterWide:
			default:
				continue
			}
			via := rg.Grant.Binding.String() + " → " + rg.Grant.Role.String()
			out = append(out, r.Reason+" ("+via+")")
			break
		}
	}
	return out
}

func privilegedServiceAccount(cc *control.CrossContext) {
	var b rbac.Builder
	for _, kind := range rbacKinds {
		for _, e := range cc.Inv.Kind(kind) {
			c := e.Content()
			if md := k8s.Map(c, "metadata"); md != nil && !k8s.IsClusterScoped(kind) && k8s.Str(md, "namespace") == "" {
				md["namespace"] = "default" // as for workloads without a namespace
			}
			b.AddContent(c, e.Source)
		}
	}
	g := b.Build()
	exposed := exposure(cc.Inv)
	cache := map[[2]string][]string{}
	for _, w := range cc.Inv.Workloads() {
		cc.Evaluate(w)
		ns := namespaceOf(w.Ref)
		sa := w.Pod.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		key := [2]string{ns, sa}
		reasons, ok := cache[key]
		if !ok {
			id := rbac.Subject{Kind: rbac.KindServiceAccount, Namespace: ns, Name: sa}.Identity()
			reasons = Privileged(g.Permissions(id))
			cache[key] = reasons
		}
		if len(reasons) == 0 {
			continue
		}
		shown := reasons
		more := ""
		if len(shown) > maxReasons {
			shown, more = shown[:maxReasons], fmt.Sprintf(" and %d more", len(reasons)-maxReasons)
		}
		v := control.Violation{
			Path:    w.Pod.Path + ".serviceAccountName",
			Message: fmt.Sprintf("Pods run as ServiceAccount %s/%s, which %s%s", ns, sa, strings.Join(shown, "; "), more),
		}
		if how := exposedBy(exposed[ns], w.Pod.Labels); how != "" {
			v.Message += "; the workload is exposed outside the cluster by " + how + ", so one compromised container is a compromised cluster"
			v.Severity = control.SeverityCritical
		}
		if img := criticalImage(cc.Images, w); img != "" {
			v.Message += "; it runs a critical-vulnerability image: " + img + ", a known way into the container that holds the token"
			v.Severity = control.SeverityCritical
		}
		cc.Fail(w, v)
	}
}

// service is what exposure needs of a Service.
type service struct {
	name     string
	selector map[string]string
	external string // "type LoadBalancer" or "type NodePort"; "" when internal
	ingress  string // the Ingress routing to it, if any
}

// exposure returns the Services of each namespace, with their external type
// and the Ingress routing to them.
func exposure(inv *k8s.Inventory) map[string][]*service {
	out := map[string][]*service{}
	byName := map[[2]string]*service{}
	for _, e := range inv.Kind("Service") {
		c := e.Content()
		spec := k8s.Map(c, "spec")
		s := &service{name: e.Ref.Name, selector: k8s.StringMap(spec, "selector")}
		if t := k8s.Str(spec, "type"); t == "LoadBalancer" || t == "NodePort" {
			s.external = "type " + t
		}
		ns := namespaceOf(e.Ref)
		out[ns] = append(out[ns], s)
		byName[[2]string{ns, s.name}] = s
	}
	for _, e := range inv.Kind("Ingress") {
		ns := namespaceOf(e.Ref)
		for _, name := range ingressServices(k8s.Map(e.Content(), "spec")) {
			if s := byName[[2]string{ns, name}]; s != nil && s.ingress == "" {
				s.ingress = e.Ref.Name
			}
		}
	}
	return out
}

// ingressServices returns the Service names an Ingress spec routes to
// (networking.k8s.io/v1 backend.service.name and the older serviceName).
func ingressServices(spec map[string]any) []string {
	var out []string
	add := func(b map[string]any) {
		if name := k8s.Str(k8s.Map(b, "service"), "name"); name != "" {
			out = append(out, name)
		} else if name := k8s.Str(b, "serviceName"); name != "" {
			out = append(out, name)
		}
	}
	add(k8s.Map(spec, "defaultBackend"))
	add(k8s.Map(spec, "backend"))
	for _, r := range k8s.Slice(spec, "rules") {
		rule, _ := r.(map[string]any)
		for _, p := range k8s.Slice(k8s.Map(rule, "http"), "paths") {
			pm, _ := p.(map[string]any)
			add(k8s.Map(pm, "backend"))
		}
	}
	return out
}

// exposedBy says how the pods with labels are exposed outside the cluster,
// or "".
func exposedBy(services []*service, labels map[string]string) string {
	for _, s := range services {
		if len(s.selector) == 0 || !k8s.MatchSelectorMap(s.selector, labels) {
			continue
		}
		switch {
		case s.external != "":
			return "Service " + s.name + " (" + s.external + ")"
		case s.ingress != "":
			return "Ingress " + s.ingress + " (via Service " + s.name + ")"
		}
	}
	return ""
}

// criticalImage describes the first image of w with critical
// vulnerabilities, or "" (also when images were not analysed).
func criticalImage(images control.ImageIndex, w *k8s.Entry) string {
	if images == nil {
		return ""
	}
	for _, img := range w.Pod.Images {
		if iv := images.Image(w.Ref.Namespace, img); iv != nil && iv.Critical.N > 0 {
			return supplychain.ImageMessage(img, iv.Digests, iv.Critical, "critical")
		}
	}
	return ""
}
