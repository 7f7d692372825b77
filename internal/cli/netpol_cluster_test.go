package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampart-dev/rampart/internal/testenv"
)

// TestNetpolCluster runs `rampart netpol` with --cluster against the real
// API server, through a kubeconfig file.
func TestNetpolCluster(t *testing.T) {
	env := testenv.Start(t)
	cs := env.Admin.Clientset(t)
	ctx := context.Background()
	const ns = "netpol-cli"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-egress", Namespace: ns},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := env.Admin.KubeconfigFile(t)

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{name: "coverage", args: []string{"netpol", "coverage", "--cluster", "--kubeconfig", kubeconfig, "-n", ns, "-o", "json"}, check: func(t *testing.T, out string) {
			var rep struct {
				Workloads []struct {
					Workload string `json:"workload"`
					Egress   struct {
						Isolated bool     `json:"isolated"`
						Policies []string `json:"policies"`
						DenyAll  bool     `json:"denyAll"`
					} `json:"egress"`
					Warnings []string `json:"warnings"`
				} `json:"workloads"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(rep.Workloads) != 1 || rep.Workloads[0].Workload != ns+"/Pod/api" || !rep.Workloads[0].Egress.DenyAll || len(rep.Workloads[0].Warnings) != 1 {
				t.Errorf("coverage = %+v", rep)
			}
		}},
		{name: "reach", args: []string{"netpol", "reach", ns + "/Pod/api", "1.1.1.1", "--port", "443", "--cluster", "--kubeconfig", kubeconfig}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, "DENIED") || !strings.Contains(out, "isolated by "+ns+"/deny-egress") {
				t.Errorf("reach:\n%s", out)
			}
		}},
		{name: "suggest", args: []string{"netpol", "suggest", ns, "--cluster", "--kubeconfig", kubeconfig}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, "name: default-deny-all") || !strings.Contains(out, "namespace: "+ns) {
				t.Errorf("suggest:\n%s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			tt.check(t, out.String())
		})
	}
}
