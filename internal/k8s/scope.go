package k8s

// clusterScoped lists the built-in cluster-scoped kinds by kind name.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"StorageClass": true, "VolumeAttachment": true, "CSIDriver": true, "CSINode": true,
	"PriorityClass": true, "RuntimeClass": true, "IngressClass": true, "APIService": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"PodSecurityPolicy": true, "CertificateSigningRequest": true, "FlowSchema": true,
	"PriorityLevelConfiguration": true, "ClusterIssuer": true, "GatewayClass": true,
	"ClusterRoleTemplate": true, "SecurityContextConstraints": true, "DeviceClass": true,
	"ResourceSlice": true, "StorageVersion": true, "ClusterTrustBundle": true,
	"SelfSubjectReview": true, "TokenReview": true, "SubjectAccessReview": true,
	"SelfSubjectAccessReview": true, "SelfSubjectRulesReview": true,
}

// IsClusterScoped reports whether kind is a known cluster-scoped kind.
// Unknown kinds (most custom resources) are treated as namespaced.
func IsClusterScoped(kind string) bool { return clusterScoped[kind] }
