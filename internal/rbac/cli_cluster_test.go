package rbac_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/cli"
	"github.com/rampart-dev/rampart/internal/testenv"
)

// TestCLICluster runs rampart rbac --cluster against the real API server.
func TestCLICluster(t *testing.T) {
	env := testenv.Start(t)
	cs, err := kubernetes.NewForConfig(env.Admin.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "cli-leases"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"delete"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "cli-leases"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cli-leases"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "cli-user"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := env.Admin.KubeconfigFile(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"who-can", []string{"rbac", "who-can", "delete", "leases", "--cluster", "--kubeconfig", kubeconfig},
			[]string{"user:cli-user", "ClusterRoleBinding/cli-leases", "group:system:masters"}},
		{"can json", []string{"rbac", "can", "user:cli-user", "--cluster", "--kubeconfig", kubeconfig, "-o", "json"},
			[]string{`"subject": "user:cli-user"`, `"binding": "ClusterRoleBinding/cli-leases"`, `"binding": "ClusterRoleBinding/system:basic-user"`}},
		{"risks", []string{"rbac", "risks", "--cluster", "--kubeconfig", kubeconfig},
			[]string{"group:system:masters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := cli.Run(tt.args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}); code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
