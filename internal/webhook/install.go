package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Installation defaults.
const (
	// DefaultImage is the image repository of the webhook Deployment.
	DefaultImage = "ghcr.io/rampart-dev/rampart"
	// DefaultReplicas is the Deployment's replica count.
	DefaultReplicas = 3
	// ContainerPort is where `rampart webhook serve` listens in the pod.
	ContainerPort = 8443
	// CertDir is where the serving Secret is mounted in the pod.
	CertDir = "/tls"
	// ConfigDir is where the configuration ConfigMap is mounted.
	ConfigDir = "/etc/rampart"
	// ConfigKey is the configuration's key in the ConfigMap.
	ConfigKey = "config.yaml"
	// FieldManager is the server-side apply field manager of install.
	FieldManager = "rampart"
	// CertManagerInjectAnnotation asks cert-manager's CA injector to set
	// the caBundle from a Certificate (namespace/name).
	CertManagerInjectAnnotation = "cert-manager.io/inject-ca-from"
	// uid is the non-root user and group the container runs as.
	uid = 65532
)

// InstallOptions describe an installation of the webhook.
type InstallOptions struct {
	// Name names the configuration, Service, Deployment and the objects
	// around them; DefaultName when empty.
	Name string
	// Namespace is Rampart's namespace; DefaultNamespace when empty.
	Namespace string
	// Image is the container image reference (tag or digest).
	Image string
	// Replicas of the Deployment; DefaultReplicas when 0.
	Replicas int32
	// FailClosed sets failurePolicy Fail and serves with --fail-closed.
	FailClosed bool
	// ExcludeNamespaces are kept out by the namespaceSelector besides
	// kube-system and Namespace.
	ExcludeNamespaces []string
	// Config is the content of a configuration file, mounted from a
	// ConfigMap and passed as --config; nil for none.
	Config []byte
	// Background is the background audit interval (0: off); it also adds
	// the read-only scanning rules to the ClusterRole.
	Background time.Duration
	// CertManager emits cert-manager Issuers and Certificates instead of
	// TLS material, and has cert-manager inject the caBundle.
	CertManager bool
	// TLS is the self-signed material (ignored with CertManager).
	TLS *TLSMaterial
	// NoSecret leaves the Secrets out of the objects (the caBundle is
	// still set from TLS).
	NoSecret bool
}

// TLSSecretName is the serving Secret (tls.crt, tls.key, ca.crt), mounted
// by the pods.
func TLSSecretName(name string) string { return name + "-tls" }

// CASecretName is the CA's Secret (tls.crt, tls.key of the CA), never
// mounted: only install reads it, to issue the next serving certificate.
func CASecretName(name string) string { return name + "-ca" }

func (o *InstallOptions) defaults() error {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	switch {
	case o.Replicas < 0:
		return fmt.Errorf("replicas: %d is negative", o.Replicas)
	case o.Image == "":
		return errors.New("no image")
	case !o.CertManager && o.TLS == nil:
		return errors.New("no TLS material (self-signed) and no cert-manager")
	case o.Background < 0:
		return fmt.Errorf("background: %s is negative", o.Background)
	}
	return nil
}

// Manifests returns the objects of the installation, in the order they are
// applied: Namespace, ServiceAccount, RBAC, ConfigMap, TLS (Secrets, or
// cert-manager Issuers and Certificates), Service, Deployment,
// PodDisruptionBudget, NetworkPolicy and last the
// ValidatingWebhookConfiguration, so that the webhook is registered once
// its server can exist. Every object carries SelfLabel.
func Manifests(o InstallOptions) ([]*unstructured.Unstructured, error) {
	if err := o.defaults(); err != nil {
		return nil, fmt.Errorf("webhook install: %w", err)
	}
	var objs []runtime.Object
	objs = append(objs, o.namespace(), o.serviceAccount(), o.clusterRole(), o.clusterRoleBinding())
	if o.Config != nil {
		objs = append(objs, &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: o.meta(o.Name + "-config"),
			Data: map[string]string{ConfigKey: string(o.Config)}})
	}
	if !o.CertManager && !o.NoSecret {
		objs = append(objs, o.secrets()...)
	}
	pdb := o.podDisruptionBudget()
	objs = append(objs, o.service(), o.deployment())
	if pdb != nil {
		objs = append(objs, pdb)
	}
	objs = append(objs, o.networkPolicy())
	var caBundle []byte
	if !o.CertManager {
		caBundle = o.TLS.CABundle
	}
	vwc := ValidatingWebhookConfiguration(RegistrationOptions{Name: o.Name, Namespace: o.Namespace, CABundle: caBundle,
		FailClosed: o.FailClosed, ExcludeNamespaces: o.ExcludeNamespaces})
	if o.CertManager {
		vwc.Annotations = map[string]string{CertManagerInjectAnnotation: o.Namespace + "/" + o.Name}
	}
	objs = append(objs, vwc)

	var out []*unstructured.Unstructured
	for _, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("webhook install: converting %T: %w", obj, err)
		}
		u := &unstructured.Unstructured{Object: m}
		clean(u)
		out = append(out, u)
	}
	if o.CertManager {
		// cert-manager objects go where the Secrets would: before the
		// workload that mounts the serving Secret.
		out = insertAfterKind(out, "ClusterRoleBinding", o.certManagerObjects())
	}
	return out, nil
}

// insertAfterKind inserts objs after the last object of kind (or at the
// end), after the ConfigMap when there is one.
func insertAfterKind(list []*unstructured.Unstructured, kind string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	at := len(list)
	for i, u := range list {
		if u.GetKind() == kind || u.GetKind() == "ConfigMap" {
			at = i + 1
		}
	}
	out := make([]*unstructured.Unstructured, 0, len(list)+len(objs))
	out = append(out, list[:at]...)
	out = append(out, objs...)
	return append(out, list[at:]...)
}

// clean drops what a printed manifest should not carry: null
// creationTimestamps and empty status.
func clean(u *unstructured.Unstructured) {
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	if spec, ok := u.Object["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(u.Object, "spec")
	}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// labels are the labels of every object.
func (o *InstallOptions) labels() map[string]string {
	return map[string]string{SelfLabel: SelfLabelValue, "app.kubernetes.io/name": o.Name, "app.kubernetes.io/component": "webhook"}
}

// selector selects the webhook's pods.
func (o *InstallOptions) selector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": o.Name, "app.kubernetes.io/component": "webhook"}
}

// meta is the metadata of a namespaced object.
func (o *InstallOptions) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: o.labels()}
}

func (o *InstallOptions) namespace() *corev1.Namespace {
	l := o.labels()
	delete(l, "app.kubernetes.io/component")
	// The name label is what the namespaceSelector matches; the API server
	// sets it too, but a printed manifest should be complete.
	l["kubernetes.io/metadata.name"] = o.Namespace
	l["pod-security.kubernetes.io/enforce"] = "restricted"
	l["pod-security.kubernetes.io/enforce-version"] = "latest"
	return &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: l}}
}

func (o *InstallOptions) serviceAccount() *corev1.ServiceAccount {
	no := false
	// The token is mounted by the Deployment only, as a projected,
	// expiring token: the server watches namespace labels.
	return &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: o.meta(o.Name), AutomountServiceAccountToken: &no}
}

// ScanRules are the read-only rules `rampart scan --cluster` needs (those
// of deploy/rbac.yaml's rampart-scanner ClusterRole; a test holds them
// equal). Secrets are deliberately absent.
var ScanRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "replicationcontrollers", "services", "namespaces", "serviceaccounts"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "networkpolicies"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"security.istio.io"}, Resources: []string{"peerauthentications"}, Verbs: []string{"get", "list"}},
}

func (o *InstallOptions) clusterRole() *rbacv1.ClusterRole {
	// The server watches namespaces for their mode labels and, when a
	// Service or Ingress is admitted, lists the workloads and Services of
	// its namespace for the cross-object controls (RelatedKinds); nothing
	// else unless the background audit scans the cluster.
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}, Verbs: []string{"list"}},
	}
	if o.Background > 0 {
		rules = append(rules, ScanRules...)
	}
	return &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: o.labels()}, Rules: rules}
}

func (o *InstallOptions) clusterRoleBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: o.labels()},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: o.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: o.Name, Namespace: o.Namespace}}}
}

func (o *InstallOptions) secrets() []runtime.Object {
	return []runtime.Object{
		&corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: o.meta(CASecretName(o.Name)), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: o.TLS.CACert, corev1.TLSPrivateKeyKey: o.TLS.CAKey}},
		&corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: o.meta(TLSSecretName(o.Name)), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: o.TLS.Cert, corev1.TLSPrivateKeyKey: o.TLS.Key, "ca.crt": o.TLS.CACert}},
	}
}

func (o *InstallOptions) service() *corev1.Service {
	return &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: o.meta(o.Name), Spec: corev1.ServiceSpec{
		Type:     corev1.ServiceTypeClusterIP,
		Selector: o.selector(),
		Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}},
	}}
}

// Args are the container's arguments.
func (o *InstallOptions) Args() []string {
	args := []string{"webhook", "serve", "--addr", fmt.Sprintf(":%d", ContainerPort), "--cert-dir", CertDir}
	if o.Config != nil {
		args = append(args, "--config", ConfigDir+"/"+ConfigKey)
	}
	if o.FailClosed {
		args = append(args, "--fail-closed")
	}
	if o.Background > 0 {
		args = append(args, "--background", o.Background.String())
	}
	return args
}

func (o *InstallOptions) deployment() *appsv1.Deployment {
	yes, no := true, false
	user := int64(uid)
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}}, PeriodSeconds: period, TimeoutSeconds: 2}
	}
	tlsSecret := TLSSecretName(o.Name)
	expiry := int64(3600)
	volumes := []corev1.Volume{
		{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: tlsSecret,
			Items: []corev1.KeyToPath{{Key: corev1.TLSCertKey, Path: corev1.TLSCertKey}, {Key: corev1.TLSPrivateKeyKey, Path: corev1.TLSPrivateKeyKey}}}}},
		// What automountServiceAccountToken would mount, made explicit: an
		// expiring token, the cluster CA and the namespace.
		{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiry}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "tls", MountPath: CertDir, ReadOnly: true},
		{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
	}
	if o.Config != nil {
		volumes = append(volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.Name + "-config"}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "config", MountPath: ConfigDir, ReadOnly: true})
	}
	spread := func(key string) corev1.TopologySpreadConstraint {
		return corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: o.selector()}}
	}
	podLabels := o.labels()
	replicas := o.Replicas
	grace := int64(30)
	return &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: o.meta(o.Name), Spec: appsv1.DeploymentSpec{
		Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: o.selector()},
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptrTo(intstr.FromInt32(0)), MaxSurge: ptrTo(intstr.FromInt32(1))}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{
				ServiceAccountName:            o.Name,
				AutomountServiceAccountToken:  &no,
				EnableServiceLinks:            &no,
				TerminationGracePeriodSeconds: &grace,
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &user, RunAsGroup: &user, FSGroup: &user,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{spread("kubernetes.io/hostname"), spread("topology.kubernetes.io/zone")},
				Containers: []corev1.Container{{
					Name: "webhook", Image: o.Image, Args: o.Args(),
					Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: ContainerPort, Protocol: corev1.ProtocolTCP}},
					Env: []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
						FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
					},
					ReadinessProbe: probe("/readyz", 5),
					LivenessProbe:  probe("/healthz", 10),
					VolumeMounts:   mounts,
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
						RunAsNonRoot: &yes, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				}},
				Volumes: volumes,
			},
		},
	}}
}

// podDisruptionBudget keeps two pods up (one fewer than the replicas when
// there are only two); a single replica gets none, since it would block
// every node drain.
func (o *InstallOptions) podDisruptionBudget() *policyv1.PodDisruptionBudget {
	if o.Replicas < 2 {
		return nil
	}
	minAvailable := intstr.FromInt32(min(2, o.Replicas-1))
	return &policyv1.PodDisruptionBudget{TypeMeta: typeMeta("policy/v1", "PodDisruptionBudget"), ObjectMeta: o.meta(o.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: o.selector()}}}
}

// networkPolicy admits HTTPS to the webhook port only (from anywhere: the
// API server's source address depends on the platform) and lets the pods
// reach the API server and DNS only.
func (o *InstallOptions) networkPolicy() *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p corev1.Protocol, n int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: &p, Port: ptrTo(intstr.FromInt32(n))}
	}
	return &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: o.meta(o.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: o.selector()},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, ContainerPort)}}},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 443), port(tcp, 6443)}},
				{Ports: []networkingv1.NetworkPolicyPort{port(udp, 53), port(tcp, 53)}},
			},
		}}
}

// certManagerObjects are a self-signed Issuer that signs a CA Certificate,
// a CA Issuer over it, and the serving Certificate it issues (renewed
// RenewBefore expiry, into the serving Secret).
func (o *InstallOptions) certManagerObjects() []*unstructured.Unstructured {
	obj := func(kind, name string, spec map[string]any) *unstructured.Unstructured {
		labels := map[string]any{}
		for k, v := range o.labels() {
			labels[k] = v
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": o.Namespace, "labels": labels},
			"spec":     spec,
		}}
	}
	ecdsa := map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"}
	dns := ServiceDNSNames(o.Name, o.Namespace)
	return []*unstructured.Unstructured{
		obj("Issuer", o.Name+"-selfsigned", map[string]any{"selfSigned": map[string]any{}}),
		obj("Certificate", CASecretName(o.Name), map[string]any{
			"isCA": true, "commonName": "rampart-webhook-ca", "secretName": CASecretName(o.Name),
			"duration": CAValidity.String(), "renewBefore": RenewBefore.String(), "privateKey": ecdsa,
			"issuerRef": map[string]any{"name": o.Name + "-selfsigned", "kind": "Issuer", "group": "cert-manager.io"},
		}),
		obj("Issuer", CASecretName(o.Name), map[string]any{"ca": map[string]any{"secretName": CASecretName(o.Name)}}),
		obj("Certificate", o.Name, map[string]any{
			"secretName": TLSSecretName(o.Name), "dnsNames": toAny(dns), "commonName": dns[0],
			"duration": ServingValidity.String(), "renewBefore": RenewBefore.String(), "privateKey": ecdsa,
			"usages":    []any{"server auth", "digital signature"},
			"issuerRef": map[string]any{"name": CASecretName(o.Name), "kind": "Issuer", "group": "cert-manager.io"},
		}),
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// GVR returns the resource of an object that Manifests returns.
func GVR(u *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	res, ok := map[string]string{
		"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
		"ClusterRoleBinding": "clusterrolebindings", "ConfigMap": "configmaps", "Secret": "secrets", "Service": "services",
		"Deployment": "deployments", "PodDisruptionBudget": "poddisruptionbudgets", "NetworkPolicy": "networkpolicies",
		"ValidatingWebhookConfiguration": "validatingwebhookconfigurations", "Issuer": "issuers", "Certificate": "certificates",
	}[u.GetKind()]
	if !ok {
		return schema.GroupVersionResource{}, fmt.Errorf("no resource known for kind %s", u.GetKind())
	}
	return gv.WithResource(res), nil
}

// WriteManifests writes objs as a YAML stream (format "yaml", documents
// separated by ---, after header comment lines) or as a JSON v1 List
// (format "json").
func WriteManifests(w io.Writer, objs []*unstructured.Unstructured, format string, header []string) error {
	switch format {
	case "json":
		items := make([]any, len(objs))
		for i, u := range objs {
			items[i] = u.Object
		}
		b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the manifests: %w", err)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "yaml":
		var sb strings.Builder
		for _, h := range header {
			sb.WriteString(strings.TrimRight("# "+h, " ") + "\n")
		}
		for i, u := range objs {
			b, err := yaml.Marshal(u.Object)
			if err != nil {
				return fmt.Errorf("encoding %s %s: %w", u.GetKind(), u.GetName(), err)
			}
			if i > 0 || len(header) > 0 {
				sb.WriteString("---\n")
			}
			sb.Write(b)
		}
		_, err := io.WriteString(w, sb.String())
		return err
	default:
		return fmt.Errorf("output format %q: want yaml or json", format)
	}
}
