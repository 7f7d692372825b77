package workload

import (
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// tokenAutomount fails pods that get a service account API token mounted:
// automountServiceAccountToken is not false on the pod spec.
func tokenAutomount(c *control.Context, p *pod) {
	v, set := k8s.Bool(p.spec.Spec, "automountServiceAccountToken")
	switch {
	case set && !v:
		return
	case set:
		c.Fail(p.spec.Path+".automountServiceAccountToken", "", "the pod mounts a service account API token: automountServiceAccountToken is true")
	default:
		c.Fail(p.spec.Path, "", "the pod mounts a service account API token: automountServiceAccountToken is not set to false")
	}
}

// serviceAccountName returns the pod's service account and the field
// naming it ("" when neither field is set).
func serviceAccountName(p *pod) (name, field string) {
	if n := k8s.Str(p.spec.Spec, "serviceAccountName"); n != "" {
		return n, "serviceAccountName"
	}
	if n := k8s.Str(p.spec.Spec, "serviceAccount"); n != "" {
		return n, "serviceAccount"
	}
	return "", ""
}

// defaultServiceAccount fails pods running as the namespace's "default"
// ServiceAccount, explicitly or by leaving serviceAccountName unset.
func defaultServiceAccount(c *control.Context, p *pod) {
	name, field := serviceAccountName(p)
	switch name {
	case "":
		c.Fail(p.spec.Path, "", "the pod sets no serviceAccountName, so it runs as the namespace's default ServiceAccount")
	case "default":
		c.Fail(p.spec.Path+"."+field, "", "the pod runs as the namespace's default ServiceAccount")
	}
}
