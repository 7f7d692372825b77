package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of the installed webhook.
const (
	// DefaultName names the ValidatingWebhookConfiguration, Service and
	// Deployment.
	DefaultName = "rampart-webhook"
	// DefaultNamespace is Rampart's own namespace.
	DefaultNamespace = "rampart-system"
	// Path is where the server answers admission reviews.
	Path = "/validate"
	// DefaultTimeoutSeconds is the API server's timeout for one call.
	DefaultTimeoutSeconds = 3
	// SelfLabel marks Rampart's own objects, which the webhook never judges.
	SelfLabel = "app.kubernetes.io/part-of"
	// SelfLabelValue is SelfLabel's value on Rampart's objects.
	SelfLabelValue = "rampart"
)

// RegistrationOptions shape the ValidatingWebhookConfiguration.
type RegistrationOptions struct {
	// Name of the configuration; DefaultName when empty.
	Name string
	// Namespace of Rampart's Service; DefaultNamespace when empty. It is
	// excluded by the namespaceSelector, with kube-system.
	Namespace string
	// ServiceName is the webhook Service; Name when empty.
	ServiceName string
	// CABundle is the PEM CA that signed the serving certificate (empty
	// with cert-manager, which injects it).
	CABundle []byte
	// FailClosed sets failurePolicy: Fail instead of Ignore.
	FailClosed bool
	// ExcludeNamespaces are excluded by the namespaceSelector besides
	// kube-system and Namespace.
	ExcludeNamespaces []string
}

// JudgedResources are the API resources the webhook is registered for, by
// group: every pod-bearing kind, RBAC objects, Services and Ingresses
// (JudgedKinds).
var JudgedResources = []admissionregistrationv1.RuleWithOperations{
	rule("", "v1", "pods", "replicationcontrollers", "services"),
	rule("apps", "v1", "deployments", "replicasets", "statefulsets", "daemonsets"),
	rule("batch", "v1", "jobs", "cronjobs"),
	rule("rbac.authorization.k8s.io", "v1", "roles", "clusterroles", "rolebindings", "clusterrolebindings"),
	rule("networking.k8s.io", "v1", "ingresses"),
}

func rule(group, version string, resources ...string) admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.AllScopes
	return admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources, Scope: &scope,
		},
	}
}

// ValidatingWebhookConfiguration returns the configuration that registers
// the webhook: failurePolicy Ignore (Fail with FailClosed), timeoutSeconds
// 3, no side effects, and selectors that keep kube-system, Rampart's own
// namespace and Rampart's own objects out, so that a failing webhook can
// never block the system or its own recovery.
func ValidatingWebhookConfiguration(o RegistrationOptions) *admissionregistrationv1.ValidatingWebhookConfiguration {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.ServiceName == "" {
		o.ServiceName = o.Name
	}
	policy := admissionregistrationv1.Ignore
	if o.FailClosed {
		policy = admissionregistrationv1.Fail
	}
	sideEffects := admissionregistrationv1.SideEffectClassNone
	timeout := int32(DefaultTimeoutSeconds)
	path := Path
	port := int32(443)
	match := admissionregistrationv1.Equivalent
	excluded := append([]string{"kube-system", o.Namespace}, o.ExcludeNamespaces...)
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   o.Name,
			Labels: map[string]string{SelfLabel: SelfLabelValue},
		},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.rampart.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: o.Namespace, Name: o.ServiceName, Path: &path, Port: &port},
				CABundle: o.CABundle,
			},
			Rules:                   JudgedResources,
			FailurePolicy:           &policy,
			MatchPolicy:             &match,
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: excluded,
			}}},
			ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: SelfLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{SelfLabelValue},
			}}},
		}},
	}
}
