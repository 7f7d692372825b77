// Package vap tests `rampart vap export` against a real kube-apiserver and
// etcd (internal/testenv): the API server must accept every exported
// ValidatingAdmissionPolicy and binding, and then enforce them.
package vap

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/cli"
	"github.com/rampart-dev/rampart/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// export runs rampart vap export with args and decodes its JSON List.
func export(t *testing.T, args ...string) (policies []admissionv1.ValidatingAdmissionPolicy, bindings []admissionv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(append([]string{"vap", "export", "-o", "json"}, args...), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != 0 {
		t.Fatalf("vap export: exit %d: %s", code, errb.String())
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, raw := range list.Items {
		var tm metav1.TypeMeta
		if err := json.Unmarshal(raw, &tm); err != nil {
			t.Fatal(err)
		}
		switch tm.Kind {
		case "ValidatingAdmissionPolicy":
			var p admissionv1.ValidatingAdmissionPolicy
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			policies = append(policies, p)
		case "ValidatingAdmissionPolicyBinding":
			var b admissionv1.ValidatingAdmissionPolicyBinding
			if err := json.Unmarshal(raw, &b); err != nil {
				t.Fatal(err)
			}
			bindings = append(bindings, b)
		default:
			t.Fatalf("unexpected kind %q", tm.Kind)
		}
	}
	return policies, bindings
}

// hardenedPod passes every exported built-in control and the example rules.
func hardenedPod(ns, name string) *corev1.Pod {
	f, yes := false, true
	uid := int64(10001)
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intOrString(8080)}}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName:           "app",
			AutomountServiceAccountToken: &f,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				RunAsUser:      &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.example.com/app:1.2.3@" + digest,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &f,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				Resources:      corev1.ResourceRequirements{Limits: res, Requests: res},
				LivenessProbe:  probe,
				ReadinessProbe: probe,
			}},
		},
	}
}

// apply creates the policies and bindings and fails on any rejection.
func apply(t *testing.T, cs kubernetes.Interface, policies []admissionv1.ValidatingAdmissionPolicy, bindings []admissionv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	ctx := context.Background()
	for i := range policies {
		if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &policies[i], metav1.CreateOptions{}); err != nil {
			t.Errorf("policy %s rejected: %v", policies[i].Name, err)
		}
	}
	for i := range bindings {
		if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &bindings[i], metav1.CreateOptions{}); err != nil {
			t.Errorf("binding %s rejected: %v", bindings[i].Name, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// remove deletes every policy and binding rampart exported.
func remove(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=rampart"}
	if err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		t.Fatal(err)
	}
	if err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		t.Fatal(err)
	}
}

// deniedBy retries a dry-run create until the policy named policy (or,
// for a prefix, any policy named so) denies it, and returns that denial (or the last result after 30 s). The API
// server loads policies through an informer, so a new policy is enforced
// a moment after its creation; the type checker that fills in
// status.typeChecking runs in kube-controller-manager, which envtest does
// not run, so readiness is observed through enforcement itself.
func deniedBy(create func(opts metav1.CreateOptions) error, policy string) error {
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		err = create(metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policy) && (strings.HasSuffix(policy, "-") || strings.Contains(err.Error(), "'"+policy+"'")) {
			return err
		}
	}
	return err
}

// TestExportAcceptedAndEnforced applies every exported policy and binding
// (built-in controls and the example rules) to a real API server, checks
// that it accepts them all and admits a hardened pod under all of them,
// then enforces a subset whose denials can be told apart (the API server
// reports only the first policy that denies, in no fixed order).
func TestExportAcceptedAndEnforced(t *testing.T) {
	env := testenv.Start(t)
	cs, err := kubernetes.NewForConfig(env.Admin.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rules := filepath.Join("..", "..", "examples", "rules", "rules.yaml")

	const ns = "vap-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{ns, "kube-system"} {
		if _, err := cs.CoreV1().ServiceAccounts(n).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	privileged := hardenedPod(ns, "privileged")
	privileged.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true), ReadOnlyRootFilesystem: ptr(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	createPod := func(p *corev1.Pod) func(metav1.CreateOptions) error {
		return func(o metav1.CreateOptions) error {
			_, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, o)
			return err
		}
	}

	// Everything: accepted, enforced, and a hardened pod passes it all.
	policies, bindings := export(t, "--rules", rules)
	if len(policies) < 25 || len(policies) != len(bindings) {
		t.Fatalf("%d policies, %d bindings", len(policies), len(bindings))
	}
	apply(t, cs, policies, bindings)
	latest := hardenedPod(ns, "latest")
	latest.Spec.Containers[0].Image = "registry.example.com/app:latest"
	// Several policies deny these; any of them will do ("rampart-" prefix).
	if err := deniedBy(createPod(privileged), "rampart-"); err == nil {
		t.Fatal("privileged pod admitted: the policies were never enforced")
	}
	if err := deniedBy(createPod(latest), "rampart-"); err == nil {
		t.Fatal("pod with the latest tag admitted under every policy")
	}
	if err := createPod(hardenedPod(ns, "hardened"))(metav1.CreateOptions{}); err != nil {
		t.Fatalf("hardened pod denied under every policy: %v", err)
	}
	if err := createPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: "kube-system"}, Spec: privileged.Spec})(metav1.CreateOptions{}); err != nil {
		t.Fatalf("privileged pod denied in kube-system, which the bindings exclude: %v", err)
	}
	remove(t, cs)

	// A subset whose failures do not overlap, so each denial names its policy.
	policies, bindings = export(t, "--rules", rules, "--controls", "privileged-container,host-pid,no-latest-image-tag,deployment-min-replicas")
	if len(policies) != 4 {
		t.Fatalf("%d policies, want 4", len(policies))
	}
	apply(t, cs, policies, bindings)
	hostPID := hardenedPod(ns, "hostpid")
	hostPID.Spec.HostPID = true
	tests := []struct {
		name   string
		create func(metav1.CreateOptions) error
		policy string
		want   string
	}{
		{name: "privileged pod", create: createPod(privileged), policy: "rampart-privileged-container",
			want: "denied request: privileged-container: a container runs privileged: set securityContext.privileged: false"},
		{name: "host PID", create: createPod(hostPID), policy: "rampart-host-pid", want: "host-pid: the pod shares a host namespace: remove hostPID: true"},
		{name: "privileged Deployment template", create: func(o metav1.CreateOptions) error {
			_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "priv", privileged.Spec, 2), o)
			return err
		}, policy: "rampart-privileged-container", want: "privileged-container: a container runs privileged"},
		{name: "custom rule: latest tag, with its messageExpression", create: createPod(latest), policy: "rampart-no-latest-image-tag",
			want: "denied request: images without a pinned tag: registry.example.com/app:latest"},
		{name: "custom rule: single-replica Deployment", create: func(o metav1.CreateOptions) error {
			_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "single", hardenedPod(ns, "x").Spec, 1), o)
			return err
		}, policy: "rampart-deployment-min-replicas", want: "the Deployment runs 1 replica(s); want at least 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := deniedBy(tt.create, tt.policy)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a denial by %s with %q", err, tt.policy, tt.want)
			}
			// The real request is denied too, not only the dry run.
			if err := tt.create(metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), tt.policy) {
				t.Fatalf("create: %v", err)
			}
		})
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "ok", hardenedPod(ns, "x").Spec, 2), metav1.CreateOptions{}); err != nil {
		t.Errorf("hardened Deployment denied: %v", err)
	}
}

// deployment wraps a pod spec in a labelled Deployment.
func deployment(ns, name string, spec corev1.PodSpec, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "platform"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func intOrString(port int) intstr.IntOrString { return intstr.FromInt(port) }
