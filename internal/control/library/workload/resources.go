package workload

import (
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// resourceNames are the resources every container should bound.
var resourceNames = [...]string{"cpu", "memory"}

// missingResources reports, per container, the cpu/memory entries absent
// from resources.<field> ("limits" or "requests"). Pod-level resources
// (spec.resources) satisfy the container-level ones. Ephemeral containers
// are skipped: the API forbids resources on them.
func missingResources(c *control.Context, p *pod, field, noun string) {
	pod := k8s.Map(k8s.Map(p.spec.Spec, "resources"), field)
	for _, ct := range p.containers {
		if ct.Field == "ephemeralContainers" {
			continue
		}
		have := k8s.Map(k8s.Map(ct.Spec, "resources"), field)
		var missing [len(resourceNames)]bool
		n := 0
		for i, r := range resourceNames {
			if !k8s.Has(have, r) && !k8s.Has(pod, r) {
				missing[i] = true
				n++
			}
		}
		if n == 0 {
			continue
		}
		path := ct.Path + ".resources." + field
		switch {
		case n == len(resourceNames):
			c.Failf(path, ct.Name, "container %q sets no cpu or memory %s", ct.Name, noun)
		case missing[0]:
			c.Failf(path, ct.Name, "container %q sets no cpu %s", ct.Name, noun)
		case missing[1]:
			c.Failf(path, ct.Name, "container %q sets no memory %s", ct.Name, noun)
		}
	}
}

func missingLimits(c *control.Context, p *pod) {
	missingResources(c, p, "limits", "limit")
}

func missingRequests(c *control.Context, p *pod) {
	missingResources(c, p, "requests", "request")
}

// longRunning reports whether obj runs pods meant to keep running: every
// pod-bearing kind except Jobs and CronJobs, and Pods (or PodTemplates)
// whose restartPolicy is Never or OnFailure.
func longRunning(obj *k8s.Object) bool {
	switch obj.Kind() {
	case "Job", "CronJob":
		return false
	case "Pod", "PodTemplate":
		p := podOf(obj)
		if !p.ok {
			return false
		}
		switch k8s.Str(p.spec.Spec, "restartPolicy") {
		case "Never", "OnFailure":
			return false
		}
	}
	return true
}

// missingProbes fails long-running containers without a liveness or a
// readiness probe. Regular containers are checked, and so are native
// sidecars (initContainers with restartPolicy Always); ordinary init
// containers and ephemeral containers run to completion or are for
// debugging, and the API forbids probes on them.
func missingProbes(c *control.Context, p *pod) {
	for _, ct := range p.containers {
		switch ct.Field {
		case "ephemeralContainers":
			continue
		case "initContainers":
			if k8s.Str(ct.Spec, "restartPolicy") != "Always" {
				continue
			}
		}
		live := k8s.Map(ct.Spec, "livenessProbe") != nil
		ready := k8s.Map(ct.Spec, "readinessProbe") != nil
		switch {
		case !live && !ready:
			c.Failf(ct.Path, ct.Name, "container %q has neither a liveness nor a readiness probe", ct.Name)
		case !live:
			c.Failf(ct.Path+".livenessProbe", ct.Name, "container %q has no liveness probe", ct.Name)
		case !ready:
			c.Failf(ct.Path+".readinessProbe", ct.Name, "container %q has no readiness probe", ct.Name)
		}
	}
}
