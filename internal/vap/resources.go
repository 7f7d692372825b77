package vap

import (
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// resource is where the API serves a kind.
type resource struct {
	group, version, plural string
}

// knownResources maps the kinds Rampart knows to their group, version and
// resource name.
var knownResources = map[string]resource{
	"Pod":                     {"", "v1", "pods"},
	"PodTemplate":             {"", "v1", "podtemplates"},
	"ReplicationController":   {"", "v1", "replicationcontrollers"},
	"Service":                 {"", "v1", "services"},
	"ServiceAccount":          {"", "v1", "serviceaccounts"},
	"ConfigMap":               {"", "v1", "configmaps"},
	"Secret":                  {"", "v1", "secrets"},
	"Namespace":               {"", "v1", "namespaces"},
	"PersistentVolume":        {"", "v1", "persistentvolumes"},
	"PersistentVolumeClaim":   {"", "v1", "persistentvolumeclaims"},
	"Deployment":              {"apps", "v1", "deployments"},
	"StatefulSet":             {"apps", "v1", "statefulsets"},
	"DaemonSet":               {"apps", "v1", "daemonsets"},
	"ReplicaSet":              {"apps", "v1", "replicasets"},
	"Job":                     {"batch", "v1", "jobs"},
	"CronJob":                 {"batch", "v1", "cronjobs"},
	"Ingress":                 {"networking.k8s.io", "v1", "ingresses"},
	"IngressClass":            {"networking.k8s.io", "v1", "ingressclasses"},
	"NetworkPolicy":           {"networking.k8s.io", "v1", "networkpolicies"},
	"Role":                    {"rbac.authorization.k8s.io", "v1", "roles"},
	"ClusterRole":             {"rbac.authorization.k8s.io", "v1", "clusterroles"},
	"RoleBinding":             {"rbac.authorization.k8s.io", "v1", "rolebindings"},
	"ClusterRoleBinding":      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings"},
	"PodDisruptionBudget":     {"policy", "v1", "poddisruptionbudgets"},
	"HorizontalPodAutoscaler": {"autoscaling", "v2", "horizontalpodautoscalers"},
	"StorageClass":            {"storage.k8s.io", "v1", "storageclasses"},
}

// podKinds are the pod-bearing kinds, in k8s.PodKinds order.
var podKinds = k8s.PodKinds

// resourceFor returns where kind is served. Unknown kinds (custom
// resources) get the usual lower-case plural and match any group.
func resourceFor(kind string) (resource, bool) {
	if r, ok := knownResources[kind]; ok {
		return r, true
	}
	return resource{group: "*", version: "*", plural: plural(strings.ToLower(kind))}, false
}

// plural guesses a resource name from a lower-case kind as the API
// machinery does (k8s.io/apimachinery/pkg/api/meta.UnsafeGuessKindToResource).
func plural(s string) string {
	switch {
	case s == "":
		return s
	case strings.HasSuffix(s, "s"):
		return s + "es"
	case strings.HasSuffix(s, "y"):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}
