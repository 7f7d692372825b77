package rbac

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// pageSize is the LIST page size for cluster reads.
const pageSize = 500

// AddCluster lists every Role, ClusterRole, RoleBinding and
// ClusterRoleBinding of a live cluster (with pagination) into b; src is the
// source recorded for them. Reading RBAC needs only list on those four
// resources.
func (b *Builder) AddCluster(ctx context.Context, cs kubernetes.Interface, src k8s.Source) error {
	r := cs.RbacV1()
	add := func(kind string, obj any) error {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("converting %s: %w", kind, err)
		}
		m["apiVersion"], m["kind"] = Group+"/v1", kind
		b.AddContent(m, src)
		return nil
	}
	type lister func(metav1.ListOptions) (continueToken string, err error)
	lists := map[string]lister{
		"ClusterRole": func(o metav1.ListOptions) (string, error) {
			l, err := r.ClusterRoles().List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				if err := add("ClusterRole", &l.Items[i]); err != nil {
					return "", err
				}
			}
			return l.Continue, nil
		},
		"Role": func(o metav1.ListOptions) (string, error) {
			l, err := r.Roles(metav1.NamespaceAll).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				if err := add("Role", &l.Items[i]); err != nil {
					return "", err
				}
			}
			return l.Continue, nil
		},
		"ClusterRoleBinding": func(o metav1.ListOptions) (string, error) {
			l, err := r.ClusterRoleBindings().List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				if err := add("ClusterRoleBinding", &l.Items[i]); err != nil {
					return "", err
				}
			}
			return l.Continue, nil
		},
		"RoleBinding": func(o metav1.ListOptions) (string, error) {
			l, err := r.RoleBindings(metav1.NamespaceAll).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				if err := add("RoleBinding", &l.Items[i]); err != nil {
					return "", err
				}
			}
			return l.Continue, nil
		},
	}
	for _, kind := range []string{"ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"} {
		cont := ""
		for {
			next, err := lists[kind](metav1.ListOptions{Limit: pageSize, Continue: cont})
			if err != nil {
				return fmt.Errorf("listing %ss: %w", kind, err)
			}
			if next == "" {
				break
			}
			cont = next
		}
	}
	return nil
}
