package testenv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) { Main(m) }

const (
	smokeNS   = "rampart-smoke"
	smokeRole = "rampart-smoke-read"
)

func smokeDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: smokeNS, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: "registry.example/web:1.0",
				}}},
			},
		},
	}
}

// TestSmoke proves the environment is a real API server: it reports the
// version the script built, stores, defaults and validates objects, lists
// them, and authorizes with RBAC (SubjectAccessReview, restricted users).
func TestSmoke(t *testing.T) {
	env := Start(t)
	ctx := t.Context()
	admin := env.Admin.Clientset(t)

	t.Run("version", func(t *testing.T) {
		v, err := admin.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("server version: %v", err)
		}
		if v.GitVersion != "v1.37.2" {
			t.Errorf("server version = %q, want v1.37.2", v.GitVersion)
		}
	})

	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: smokeNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	if _, err := admin.AppsV1().Deployments(smokeNS).Create(ctx, smokeDeployment("web"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	t.Run("list", func(t *testing.T) {
		nss, err := admin.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list namespaces: %v", err)
		}
		var names []string
		for _, ns := range nss.Items {
			names = append(names, ns.Name)
		}
		for _, want := range []string{smokeNS, "default", "kube-system"} {
			if !slices.Contains(names, want) {
				t.Errorf("namespaces %v lack %q", names, want)
			}
		}
		deps, err := admin.AppsV1().Deployments(smokeNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list deployments: %v", err)
		}
		if len(deps.Items) != 1 || deps.Items[0].Name != "web" {
			t.Fatalf("deployments in %s = %v, want [web]", smokeNS, deps.Items)
		}
		d := deps.Items[0]
		// Server-side defaulting proves a real API server stored the object.
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit != 10 {
			t.Errorf("deployment not defaulted by the server: strategy=%q revisionHistoryLimit=%v", d.Spec.Strategy.Type, d.Spec.RevisionHistoryLimit)
		}
		if d.UID == "" || d.ResourceVersion == "" {
			t.Errorf("deployment has no uid/resourceVersion: %+v", d.ObjectMeta)
		}
	})

	t.Run("validation", func(t *testing.T) {
		bad := smokeDeployment("bad")
		bad.Spec.Selector = nil
		_, err := admin.AppsV1().Deployments(smokeNS).Create(ctx, bad, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("deployment without selector: err = %v, want Invalid", err)
		}
	})

	// A read-only ClusterRole bound to a group, and a user in that group with
	// client-certificate credentials: the shape the cluster scan relies on.
	reader := env.AddUser(t, "rampart-reader", "rampart:readers")
	stranger := env.AddUser(t, "rampart-stranger")
	grantRead(ctx, t, admin, "rampart:readers")

	t.Run("subject access review", func(t *testing.T) {
		tests := []struct {
			name      string
			user      string
			groups    []string
			verb      string
			group     string
			resource  string
			namespace string
			want      bool
		}{
			{name: "reader lists deployments", user: reader.Name, groups: reader.Groups, verb: "list", group: "apps", resource: "deployments", namespace: smokeNS, want: true},
			{name: "reader lists namespaces", user: reader.Name, groups: reader.Groups, verb: "list", resource: "namespaces", want: true},
			{name: "reader cannot create deployments", user: reader.Name, groups: reader.Groups, verb: "create", group: "apps", resource: "deployments", namespace: smokeNS},
			{name: "reader cannot read secrets", user: reader.Name, groups: reader.Groups, verb: "get", resource: "secrets", namespace: smokeNS},
			{name: "stranger cannot list deployments", user: stranger.Name, verb: "list", group: "apps", resource: "deployments", namespace: smokeNS},
			{name: "masters may delete namespaces", user: "someone", groups: []string{"system:masters"}, verb: "delete", resource: "namespaces", want: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{
						User:   tt.user,
						Groups: tt.groups,
						ResourceAttributes: &authorizationv1.ResourceAttributes{
							Verb: tt.verb, Group: tt.group, Resource: tt.resource, Namespace: tt.namespace,
						},
					},
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("create SubjectAccessReview: %v", err)
				}
				if sar.Status.Allowed != tt.want {
					t.Errorf("allowed = %v (%s), want %v", sar.Status.Allowed, sar.Status.Reason, tt.want)
				}
			})
		}
	})

	t.Run("restricted credentials", func(t *testing.T) {
		rc := reader.Clientset(t)
		deps, err := rc.AppsV1().Deployments(smokeNS).List(ctx, metav1.ListOptions{})
		if err != nil || len(deps.Items) != 1 {
			t.Fatalf("reader lists deployments: %d items, err %v; want 1, nil", len(deps.Items), err)
		}
		_, err = rc.AppsV1().Deployments(smokeNS).Create(ctx, smokeDeployment("by-reader"), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("reader creates a deployment: err = %v, want Forbidden", err)
		}
		_, err = rc.CoreV1().Secrets(smokeNS).List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("reader lists secrets: err = %v, want Forbidden", err)
		}
		_, err = stranger.Clientset(t).AppsV1().Deployments(smokeNS).List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("stranger lists deployments: err = %v, want Forbidden", err)
		}
		ssar, err := rc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: "watch", Group: "apps", Resource: "deployments",
			}},
		}, metav1.CreateOptions{})
		if err != nil || !ssar.Status.Allowed {
			t.Errorf("reader SelfSubjectAccessReview watch deployments: %+v, err %v; want allowed", ssar, err)
		}
	})

	t.Run("kubeconfig", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", reader.KubeconfigFile(t))
		if err != nil {
			t.Fatalf("load reader kubeconfig: %v", err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, smokeNS, metav1.GetOptions{}); err != nil {
			t.Errorf("get namespace with reader kubeconfig: %v", err)
		}
	})
}

// grantRead binds a read-only ClusterRole to group and waits until the
// authorizer honours it (RBAC is served from informers).
func grantRead(ctx context.Context, t *testing.T, admin *kubernetes.Clientset, group string) {
	t.Helper()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: smokeRole},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces", "pods"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRole: %v", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: smokeRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: smokeRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRoleBinding: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: "probe", Groups: []string{group},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Group: "apps", Resource: "deployments"},
			},
		}, metav1.CreateOptions{})
		return err == nil && sar.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("RBAC binding for %s not in effect: %v", group, err)
	}
}

func TestFindRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "internal", "testenv", "x")
	for _, p := range []string{filepath.Join(root, "scripts"), deep, filepath.Join(root, "internal", "nested")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "go.mod"))
	write(filepath.Join(root, "scripts", "testenv.sh"))
	// A nested module without the script must be walked past.
	write(filepath.Join(root, "internal", "go.mod"))
	bare := t.TempDir()

	tests := []struct {
		name    string
		start   string
		want    string
		wantErr bool
	}{
		{name: "root itself", start: root, want: root},
		{name: "deep inside", start: deep, want: root},
		{name: "past nested module without script", start: filepath.Join(root, "internal", "nested"), want: root},
		{name: "no repository", start: bare, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findRoot(tt.start)
			if (err != nil) != tt.wantErr {
				t.Fatalf("findRoot(%s) err = %v, wantErr %v", tt.start, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("findRoot(%s) = %q, want %q", tt.start, got, tt.want)
			}
		})
	}
}

func TestAssetsFromEnv(t *testing.T) {
	full := t.TempDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(full, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noEtcd := t.TempDir()
	if err := os.WriteFile(filepath.Join(noEtcd, "kube-apiserver"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := t.TempDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(notExec, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{name: "both binaries", dir: full},
		{name: "etcd missing", dir: noEtcd, wantErr: "no executable etcd"},
		{name: "not executable", dir: notExec, wantErr: "no executable kube-apiserver or etcd"},
		{name: "empty dir", dir: t.TempDir(), wantErr: "no executable kube-apiserver or etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(AssetsEnv, tt.dir)
			got, err := Assets()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Assets() err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.dir {
				t.Fatalf("Assets() = %q, %v; want %q, nil", got, err, tt.dir)
			}
		})
	}
}

func TestRunScript(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		want    string
		wantErr string
	}{
		{name: "last line wins", script: "echo progress >&2\necho first\necho /cache/dir\n", want: "/cache/dir"},
		{name: "trailing blank lines", script: "echo /cache/dir\necho\necho\n", want: "/cache/dir"},
		{name: "failure", script: "echo /cache/dir\nexit 3\n", wantErr: "exit status 3"},
		{name: "no output", script: "true\n", wantErr: "printed no directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "scripts"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, Script), []byte("set -e\n"+tt.script), 0o755); err != nil {
				t.Fatal(err)
			}
			var progress strings.Builder
			got, err := runScript(t.Context(), root, &progress)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("runScript err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("runScript = %q, %v; want %q, nil", got, err, tt.want)
			}
			if strings.Contains(tt.script, ">&2") && !strings.Contains(progress.String(), "progress") {
				t.Errorf("stderr not streamed to progress: %q", progress.String())
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{name: "under limit", limit: 10, writes: []string{"abc", "de"}, want: "abcde"},
		{name: "exact limit", limit: 5, writes: []string{"abc", "de"}, want: "abcde"},
		{name: "keeps tail", limit: 4, writes: []string{"abc", "defg"}, want: "defg"},
		{name: "single large write", limit: 3, writes: []string{"abcdefgh"}, want: "fgh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(tt.limit)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
