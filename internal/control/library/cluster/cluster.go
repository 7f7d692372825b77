// Package cluster holds controls about cluster state that a cluster scan
// (`rampart scan --cluster`) sees in full: long-lived ServiceAccount token
// Secrets and namespaces without Pod Security Admission enforcement. Both
// also apply to the same objects in files: a Namespace manifest without the
// enforce label or a token Secret manifest is the same problem before it is
// applied.
//
// A cluster scan reads Secrets as metadata only, so a legacy token Secret is
// recognised by its kubernetes.io/service-account.name annotation (which the
// API server requires on every token Secret) as well as by its type. When
// the scanner may not list Secrets at all (the deploy/ role grants no Secret
// access), the control still sees the tokens the legacy token controller
// created: it references them from the ServiceAccount's secrets field under
// the name "<serviceaccount>-token-<suffix>".
//
// Pod Security: a namespace fails when it has no
// pod-security.kubernetes.io/enforce label (Pod Security Admission then
// admits privileged pods unless the cluster-wide default says otherwise,
// which a scan cannot see) or when the label's value is "privileged".
package cluster

import (
	_ "embed"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

//go:embed metadata.yaml
var metadata []byte

// Label and annotation names the controls read.
const (
	EnforceLabel          = "pod-security.kubernetes.io/enforce"
	ServiceAccountNameAnn = "kubernetes.io/service-account.name"
	TokenSecretType       = "kubernetes.io/service-account-token"
)

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, logic())
}

func logic() []*control.Control {
	return []*control.Control{
		{Metadata: control.Metadata{ID: "legacy-service-account-token-secret"}, Kinds: []string{"Secret", "ServiceAccount"}, Match: core, Check: legacyToken},
		{Metadata: control.Metadata{ID: "namespace-without-pod-security"}, Kinds: []string{"Namespace"}, Match: core, Check: podSecurity},
	}
}

// core selects objects of the core API group (apiVersion v1).
func core(obj *k8s.Object) bool { return obj.APIVersion() == "v1" }

func legacyToken(c *control.Context) {
	obj := c.Obj
	if obj.Kind() == "ServiceAccount" {
		prefix := obj.Name() + "-token-"
		for i, s := range k8s.Slice(obj.Content, "secrets") {
			ref, ok := s.(map[string]any)
			if !ok {
				continue
			}
			if name := k8s.Str(ref, "name"); strings.HasPrefix(name, prefix) {
				c.Failf(k8s.Index("secrets", i), "", "ServiceAccount references the legacy long-lived token Secret %s", name)
			}
		}
		return
	}
	ann := obj.Annotations()
	sa, hasAnn := ann[ServiceAccountNameAnn]
	typ := k8s.Str(obj.Content, "type")
	switch {
	case typ == TokenSecretType:
		c.Failf("type", "", "Secret holds a long-lived, non-expiring token of ServiceAccount %q", sa)
	case hasAnn && (typ == "" || typ == TokenSecretType):
		c.Failf(k8s.Key("metadata.annotations", ServiceAccountNameAnn), "", "Secret holds a long-lived, non-expiring token of ServiceAccount %q", sa)
	}
}

func podSecurity(c *control.Context) {
	labels := c.Obj.Labels()
	v, ok := labels[EnforceLabel]
	switch {
	case !ok:
		if len(labels) == 0 {
			c.Fail("metadata", "", "namespace has no pod-security.kubernetes.io/enforce label: Pod Security Admission does not restrict its pods")
			return
		}
		c.Fail("metadata.labels", "", "namespace has no pod-security.kubernetes.io/enforce label: Pod Security Admission does not restrict its pods")
	case v == "privileged":
		c.Fail(k8s.Key("metadata.labels", EnforceLabel), "", "namespace enforces the privileged Pod Security level, which allows every pod")
	}
}
