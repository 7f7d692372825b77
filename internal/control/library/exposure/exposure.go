// Package exposure holds the controls over what a cluster exposes and how
// much it trusts its network: Services reachable from outside the cluster,
// the Kubernetes Dashboard without login or published to the world, the
// Argo Workflows server without client authentication, and Istio mutual
// TLS left permissive.
package exposure

import (
	_ "embed"
	"sort"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library/controlplane"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

func logic() []*control.Control {
	return []*control.Control{
		containerControl("dashboard-skip-login", isDashboard, dashboardSkipLogin),
		{
			Metadata: control.Metadata{ID: "dashboard-exposed"},
			Cross:    dashboardExposed,
		},
		containerControl("argo-server-auth-disabled", isArgoServer, argoServerAuth),
		{
			Metadata: control.Metadata{ID: "service-exposed-externally"},
			Kinds:    []string{"Service"},
			Check:    serviceExposed,
		},
		{
			Metadata: control.Metadata{ID: "mtls-permissive"},
			Kinds:    []string{"PeerAuthentication"},
			Match:    func(o *k8s.Object) bool { return o.Group() == "security.istio.io" },
			Check:    mtlsPermissive,
		},
	}
}

// containerControl builds a control over the containers of pod-bearing
// objects that is evaluated only on objects with a container selected by is.
func containerControl(id string, is func(obj *k8s.Object, ct k8s.Container) bool, check func(c *control.Context, ct k8s.Container)) *control.Control {
	selected := func(obj *k8s.Object) []k8s.Container {
		ps, ok := k8s.PodSpecOf(obj)
		if !ok {
			return nil
		}
		var out []k8s.Container
		for _, ct := range ps.Containers() {
			if is(obj, ct) {
				out = append(out, ct)
			}
		}
		return out
	}
	return &control.Control{
		Metadata: control.Metadata{ID: id},
		Kinds:    k8s.PodKinds,
		Match:    func(obj *k8s.Object) bool { return len(selected(obj)) > 0 },
		Check: func(c *control.Context) {
			for _, ct := range selected(c.Obj) {
				check(c, ct)
			}
		},
	}
}

// dashboardName is the name the Dashboard's manifests and chart give its
// workloads, Services and containers.
const dashboardName = "kubernetes-dashboard"

// IsDashboardImage reports whether image is a Kubernetes Dashboard image
// (kubernetesui/dashboard, its v7 dashboard-api/-auth/-web split, or the
// old k8s.gcr.io/kubernetes-dashboard-amd64).
func IsDashboardImage(image string) bool {
	return strings.Contains(image, "kubernetesui/dashboard") || strings.Contains(image, dashboardName)
}

// isDashboardWorkload reports whether a workload runs the Dashboard: one of
// its images is a Dashboard image or its name says so. The metrics scraper
// that ships with the Dashboard serves no UI and is not counted.
func isDashboardWorkload(name string, images []string) bool {
	for _, im := range images {
		if IsDashboardImage(im) {
			return true
		}
	}
	return strings.Contains(name, dashboardName) && !strings.Contains(name, "metrics-scraper")
}

func isDashboard(obj *k8s.Object, ct k8s.Container) bool {
	if IsDashboardImage(k8s.Str(ct.Spec, "image")) || strings.Contains(ct.Name, dashboardName) {
		return true
	}
	return strings.Contains(obj.Name(), dashboardName) && !strings.Contains(obj.Name(), "metrics-scraper") &&
		!strings.Contains(ct.Name, "metrics-scraper") && !strings.Contains(k8s.Str(ct.Spec, "image"), "metrics-scraper")
}

// flagBools are the boolean flags of the Dashboard.
var flagBools = map[string]bool{"enable-skip-login": true, "enable-insecure-login": true, "disable-settings-authorizer": true}

func dashboardSkipLogin(c *control.Context, ct k8s.Container) {
	flags, _ := controlplane.ParseFlags(controlplane.Tokens(ct), flagBools)
	last := map[string]controlplane.Flag{}
	for _, f := range flags {
		last[f.Name] = f
	}
	if f, ok := last["enable-skip-login"]; ok && isTrue(f.Value) {
		c.Fail(f.Path, ct.Name, "Kubernetes Dashboard offers a Skip button on its login page: anyone reaching it acts with the Dashboard's own ServiceAccount")
	}
	if f, ok := last["enable-insecure-login"]; ok && isTrue(f.Value) {
		c.Fail(f.Path, ct.Name, "Kubernetes Dashboard allows login over plain HTTP (--enable-insecure-login): tokens cross the network in clear")
	}
	if f, ok := last["authentication-mode"]; ok {
		for _, m := range strings.Split(f.Value, ",") {
			if strings.TrimSpace(m) == "basic" {
				c.Fail(f.Path, ct.Name, "Kubernetes Dashboard accepts basic authentication (--authentication-mode includes basic): static passwords, no token or OIDC")
				break
			}
		}
	}
}

func isTrue(v string) bool {
	switch v {
	case "true", "True", "TRUE", "t", "T", "1":
		return true
	}
	return false
}

// namespaceOf returns the namespace, with "" meaning default.
func namespaceOf(ref k8s.Ref) string {
	if ref.Namespace == "" {
		return "default"
	}
	return ref.Namespace
}

// externalType reports why a Service is reachable from outside the
// cluster: the path of the field and a description, or ok false.
func externalType(svc map[string]any) (path, why string, ok bool) {
	spec := k8s.Map(svc, "spec")
	switch t := k8s.Str(spec, "type"); t {
	case "LoadBalancer", "NodePort":
		return "spec.type", "type " + t, true
	}
	if len(k8s.Slice(spec, "externalIPs")) > 0 {
		return "spec.externalIPs", "externalIPs", true
	}
	return "", "", false
}

func dashboardExposed(cc *control.CrossContext) {
	// Dashboard pod labels by namespace.
	type wl struct {
		ref    k8s.Ref
		labels map[string]string
	}
	dash := map[string][]wl{}
	for _, e := range cc.Inv.Workloads() {
		if isDashboardWorkload(e.Ref.Name, e.Pod.Images) {
			ns := namespaceOf(e.Ref)
			dash[ns] = append(dash[ns], wl{ref: e.Ref, labels: e.Pod.Labels})
		}
	}
	// selects returns the dashboard workload a Service selects, if any.
	selects := func(svc *k8s.Entry, content map[string]any) (k8s.Ref, bool) {
		sel := k8s.StringMap(k8s.Map(content, "spec"), "selector")
		for _, w := range dash[namespaceOf(svc.Ref)] {
			if k8s.MatchSelectorMap(sel, w.labels) {
				return w.ref, true
			}
		}
		return k8s.Ref{}, false
	}
	// Dashboard Services by namespace and name; a Service named
	// kubernetes-dashboard counts even when its workload is not scanned.
	dashSvc := map[[2]string]bool{}
	for _, svc := range cc.Inv.Kind("Service") {
		cc.Evaluate(svc)
		if len(dash[namespaceOf(svc.Ref)]) == 0 && svc.Ref.Name != dashboardName {
			continue // nothing here it could expose: skip decoding it
		}
		content := svc.Content()
		ref, isDash := selects(svc, content)
		if !isDash && svc.Ref.Name != dashboardName {
			continue
		}
		dashSvc[[2]string{namespaceOf(svc.Ref), svc.Ref.Name}] = true
		if path, why, ok := externalType(content); ok {
			what := "the Kubernetes Dashboard (" + ref.Kind + " " + ref.Name + ")"
			if !isDash {
				what = "what its name says is the Kubernetes Dashboard"
			}
			cc.Fail(svc, control.Violation{Path: path, Message: "Service publishes " + what + " outside the cluster with " + why})
		}
	}
	for _, ing := range cc.Inv.Kind("Ingress") {
		cc.Evaluate(ing)
		ns := namespaceOf(ing.Ref)
		for _, b := range ingressBackends(ing.Content()) {
			if b.service == dashboardName || dashSvc[[2]string{ns, b.service}] {
				cc.Fail(ing, control.Violation{Path: b.path, Message: "Ingress routes to the Kubernetes Dashboard Service " + b.service})
			}
		}
	}
}

// backend is one Service an Ingress routes to.
type backend struct {
	service string
	path    string
}

// ingressBackends returns every Service backend of an Ingress (networking.k8s.io/v1
// backend.service.name and the older backend.serviceName).
func ingressBackends(ing map[string]any) []backend {
	var out []backend
	add := func(b map[string]any, path string) {
		if b == nil {
			return
		}
		if name := k8s.Str(k8s.Map(b, "service"), "name"); name != "" {
			out = append(out, backend{service: name, path: path + ".service.name"})
		} else if name := k8s.Str(b, "serviceName"); name != "" {
			out = append(out, backend{service: name, path: path + ".serviceName"})
		}
	}
	spec := k8s.Map(ing, "spec")
	add(k8s.Map(spec, "defaultBackend"), "spec.defaultBackend")
	add(k8s.Map(spec, "backend"), "spec.backend")
	for i, r := range k8s.Slice(spec, "rules") {
		rule, _ := r.(map[string]any)
		for j, p := range k8s.Slice(k8s.Map(rule, "http"), "paths") {
			pm, _ := p.(map[string]any)
			add(k8s.Map(pm, "backend"), k8s.Index(k8s.Index("spec.rules", i)+".http.paths", j)+".backend")
		}
	}
	return out
}

// isArgoServer reports whether a container runs `argo server`: an argocli
// image, a command line `argo server`, or args starting with server in an
// Argo image or with Argo's --auth-mode flag (other programs, such as
// MinIO, also take a server sub-command).
func isArgoServer(_ *k8s.Object, ct k8s.Container) bool {
	image := k8s.Str(ct.Spec, "image")
	if strings.Contains(image, "argoproj/argocli") {
		return true
	}
	cmd := k8s.Strings(ct.Spec, "command")
	if len(cmd) > 1 && controlplane.ImageName(cmd[0]) == "argo" && cmd[1] == "server" {
		return true
	}
	args := k8s.Strings(ct.Spec, "args")
	if len(args) == 0 || args[0] != "server" {
		return false
	}
	if strings.Contains(image, "argo") {
		return true
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "--auth-mode") {
			return true
		}
	}
	return false
}

func argoServerAuth(c *control.Context, ct k8s.Container) {
	flags, _ := controlplane.ParseFlags(controlplane.Tokens(ct), nil)
	for _, f := range flags {
		if f.Name != "auth-mode" {
			continue
		}
		for _, m := range strings.Split(f.Value, ",") {
			if strings.TrimSpace(m) == "server" {
				c.Fail(f.Path, ct.Name, "Argo Workflows server runs with --auth-mode=server: anyone reaching it submits workflows with the server's ServiceAccount")
				return
			}
		}
	}
}

func serviceExposed(c *control.Context) {
	if path, why, ok := externalType(c.Obj.Content); ok {
		c.Failf(path, "", "Service is reachable from outside the cluster (%s)", why)
	}
}

// rootNamespace is Istio's default root namespace, where a PeerAuthentication
// without selector is the mesh-wide policy.
const rootNamespace = "istio-system"

func mtlsPermissive(c *control.Context) {
	spec := k8s.Map(c.Obj.Content, "spec")
	mode := k8s.Str(k8s.Map(spec, "mtls"), "mode")
	switch mode {
	case "PERMISSIVE", "DISABLE":
		c.Failf("spec.mtls.mode", "", "PeerAuthentication sets mTLS mode %s: workloads accept plaintext traffic from unauthenticated peers", mode)
	case "", "UNSET":
		// Unset inherits from the parent policy; the mesh-wide policy has no
		// parent and Istio then treats it as PERMISSIVE.
		if c.Obj.Namespace() == rootNamespace && k8s.Map(spec, "selector") == nil {
			c.Fail("spec", "", "mesh-wide PeerAuthentication leaves mTLS mode unset, which Istio treats as PERMISSIVE: workloads accept plaintext traffic")
		}
	}
	ports := k8s.Map(spec, "portLevelMtls")
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, port := range keys {
		pm, _ := ports[port].(map[string]any)
		if m := k8s.Str(pm, "mode"); m == "PERMISSIVE" || m == "DISABLE" {
			c.Failf(k8s.Key("spec.portLevelMtls", port)+".mode", "", "PeerAuthentication sets mTLS mode %s on port %s: it accepts plaintext traffic from unauthenticated peers", m, port)
		}
	}
}
