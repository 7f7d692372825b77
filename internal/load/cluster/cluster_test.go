package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	mdfake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// groups is a discovery stub serving the given group versions.
type groups []string

func (g groups) ServerGroups() (*metav1.APIGroupList, error) {
	res := &metav1.APIGroupList{}
	seen := map[string]bool{}
	for _, gvs := range g {
		name, _, ok := strings.Cut(gvs, "/")
		if !ok {
			name = ""
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		grp := metav1.APIGroup{Name: name}
		for _, other := range g {
			n, v, ok := strings.Cut(other, "/")
			if !ok {
				n, v = "", other
			}
			if n == name {
				grp.Versions = append(grp.Versions, metav1.GroupVersionForDiscovery{Version: v})
			}
		}
		res.Groups = append(res.Groups, grp)
	}
	return res, nil
}

type failingGroups struct{}

func (failingGroups) ServerGroups() (*metav1.APIGroupList, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
}

var allGroups = groups{"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}

func obj(apiVersion, kind, ns, name, uid string, owner ...string) *unstructured.Unstructured {
	md := map[string]any{"name": name, "uid": uid, "resourceVersion": "7",
		"managedFields": []any{map[string]any{"manager": "kubectl"}},
		"annotations":   map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"c2VjcmV0"}}`}}
	if ns != "" {
		md["namespace"] = ns
	}
	if len(owner) == 2 {
		md["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": owner[0], "name": "o", "uid": owner[1], "controller": true}}
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}}
}

var listKinds = func() map[schema.GroupVersionResource]string {
	m := map[schema.GroupVersionResource]string{}
	for _, r := range Resources {
		m[schema.GroupVersionResource{Group: r.Group, Version: r.Versions[0], Resource: r.Resource}] = r.Kind + "List"
	}
	return m
}()

func secret(ns, name string, ann map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, ResourceVersion: "9"},
	}
}

func newClient(t *testing.T, objs []runtime.Object, secrets ...runtime.Object) (*Client, *dynfake.FakeDynamicClient, *mdfake.FakeMetadataClient) {
	t.Helper()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	sch := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(sch); err != nil {
		t.Fatal(err)
	}
	md := mdfake.NewSimpleMetadataClient(sch, secrets...)
	return &Client{Context: "kind-test", Server: "https://127.0.0.1:6443", Dynamic: dyn, Metadata: md, Discovery: allGroups}, dyn, md
}

// collect runs Load and returns the emitted objects as sorted
// "Kind/namespace/name" strings, the objects by key, and the errors.
func collect(t *testing.T, c *Client, opts Options) ([]string, map[string]*k8s.Object, []load.InputError, error) {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	byKey := map[string]*k8s.Object{}
	var errs []load.InputError
	err := c.Load(context.Background(), opts, func(o *k8s.Object) {
		mu.Lock()
		defer mu.Unlock()
		k := o.Kind() + "/" + o.Namespace() + "/" + o.Name()
		keys = append(keys, k)
		byKey[k] = o
	}, func(e load.InputError) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, e)
	})
	slices.Sort(keys)
	return keys, byKey, errs, err
}

func fixture() []runtime.Object {
	return []runtime.Object{
		obj("v1", "Namespace", "", "shop", "ns1"),
		obj("v1", "Namespace", "", "kube-system", "ns2"),
		obj("apps/v1", "Deployment", "shop", "web", "d1"),
		obj("apps/v1", "ReplicaSet", "shop", "web-5d8", "r1", "Deployment", "d1"),
		obj("v1", "Pod", "shop", "web-5d8-abc", "p1", "ReplicaSet", "r1"),
		obj("v1", "Pod", "shop", "debug", "p2"),
		// Owned by a custom resource that is not listed: kept.
		obj("apps/v1", "ReplicaSet", "shop", "rollout-1", "r2", "ReplicaSet", "gone"),
		obj("batch/v1", "CronJob", "shop", "nightly", "c1"),
		obj("batch/v1", "Job", "shop", "nightly-123", "j1", "CronJob", "c1"),
		obj("v1", "Pod", "shop", "nightly-123-x", "p3", "Job", "j1"),
		obj("v1", "Service", "shop", "web", "s1"),
		obj("v1", "Pod", "kube-system", "coredns", "p4"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader", "cr1"),
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{
			name: "all namespaces, controller-owned objects dropped",
			want: []string{
				"ClusterRole//reader", "CronJob/shop/nightly", "Deployment/shop/web",
				"Namespace//kube-system", "Namespace//shop",
				"Pod/kube-system/coredns", "Pod/shop/debug", "ReplicaSet/shop/rollout-1",
				"Secret/shop/default-token-abc", "Service/shop/web",
			},
		},
		{
			name: "excluded namespace",
			opts: Options{ExcludeNamespaces: []string{"kube-system"}},
			want: []string{
				"ClusterRole//reader", "CronJob/shop/nightly", "Deployment/shop/web",
				"Namespace//shop", "Pod/shop/debug", "ReplicaSet/shop/rollout-1",
				"Secret/shop/default-token-abc", "Service/shop/web",
			},
		},
		{
			name: "selected namespace",
			opts: Options{Namespaces: []string{"kube-system"}},
			want: []string{"ClusterRole//reader", "Namespace//kube-system", "Pod/kube-system/coredns"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newClient(t, fixture(), secret("shop", "default-token-abc", map[string]string{"kubernetes.io/service-account.name": "default"}))
			got, byKey, errs, err := collect(t, c, tt.opts)
			if err != nil || len(errs) > 0 {
				t.Fatalf("err %v, errors %v", err, errs)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("objects\n got %q\nwant %q", got, tt.want)
			}
			for k, o := range byKey {
				md := o.Metadata()
				if k8s.Has(md, "managedFields") || k8s.Has(k8s.Map(md, "annotations"), "kubectl.kubernetes.io/last-applied-configuration") {
					t.Errorf("%s keeps managedFields or last-applied-configuration", k)
				}
				want := k8s.Source{File: "cluster:kind-test", Cluster: "kind-test", Server: "https://127.0.0.1:6443", ResourceVersion: k8s.Str(md, "resourceVersion")}
				if o.Source != want || want.ResourceVersion == "" {
					t.Errorf("%s source %+v, want %+v", k, o.Source, want)
				}
			}
			if s, ok := byKey["Secret/shop/default-token-abc"]; ok {
				if s.APIVersion() != "v1" || k8s.Has(s.Content, "data") || k8s.Str(k8s.Map(s.Metadata(), "annotations"), "kubernetes.io/service-account.name") != "default" {
					t.Errorf("secret %v", s.Content)
				}
			}
		})
	}
}

func TestLoadPaginates(t *testing.T) {
	var objs []runtime.Object
	for i := range 23 {
		objs = append(objs, obj("v1", "Service", "shop", fmt.Sprintf("svc-%02d", i), "s"+strconv.Itoa(i)))
	}
	c, dyn, _ := newClient(t, objs)
	var calls int
	var mu sync.Mutex
	// The fake client passes neither limit nor continue to its reactors
	// (the end-to-end test checks them on a real API server): page the
	// answer by call number, 5 items a page, and check Load follows the
	// continue tokens to the end.
	dyn.PrependReactor("list", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		start := calls * 5
		calls++
		mu.Unlock()
		end := min(start+5, len(objs))
		l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceList"}}
		for _, o := range objs[start:end] {
			l.Items = append(l.Items, *o.(*unstructured.Unstructured).DeepCopy())
		}
		if end < len(objs) {
			l.SetContinue(strconv.Itoa(end))
		}
		return true, l, nil
	})
	got, _, errs, err := collect(t, c, Options{PageSize: 5})
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, errors %v", err, errs)
	}
	if len(got) != 23 {
		t.Fatalf("got %d objects, want 23: %q", len(got), got)
	}
	if calls != 5 {
		t.Fatalf("got %d LIST calls, want 5 pages", calls)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name       string
		resource   string
		err        error
		metadata   bool
		wantErrors []string
		wantKept   string
	}{
		{
			name: "forbidden kind is an error, the rest completes", resource: "roles",
			err:        apierrors.NewForbidden(schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"}, "", errors.New(`User "bob" cannot list resource "roles"`)),
			wantErrors: []string{"https://127.0.0.1:6443/apis/rbac.authorization.k8s.io/v1/roles: cannot list Role: forbidden: "},
			wantKept:   "Service/shop/web",
		},
		{
			name: "failing kind", resource: "services",
			err:        apierrors.NewInternalError(errors.New("etcd timeout")),
			wantErrors: []string{"https://127.0.0.1:6443/api/v1/services: cannot list Service: internalerror: "},
			wantKept:   "Deployment/shop/web",
		},
		{
			name: "forbidden secrets are skipped", resource: "secrets", metadata: true,
			err:      apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("no")),
			wantKept: "Deployment/shop/web",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dyn, md := newClient(t, fixture())
			react := func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tt.err }
			if tt.metadata {
				md.PrependReactor("list", tt.resource, react)
			} else {
				dyn.PrependReactor("list", tt.resource, react)
			}
			got, _, errs, err := collect(t, c, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) != len(tt.wantErrors) {
				t.Fatalf("errors %v, want %d", errs, len(tt.wantErrors))
			}
			for i, e := range errs {
				if s := e.Error(); !strings.HasPrefix(s, tt.wantErrors[i]) || strings.Contains(s, "\n") {
					t.Errorf("error %q, want prefix %q", s, tt.wantErrors[i])
				}
			}
			if !slices.Contains(got, tt.wantKept) {
				t.Errorf("%s missing from %q", tt.wantKept, got)
			}
		})
	}
}

func TestLoadUnreachable(t *testing.T) {
	tests := []struct {
		name   string
		client func(c *Client)
	}{
		{name: "probe fails", client: func(c *Client) {
			c.Probe = func(context.Context) error { return errors.New("dial tcp 127.0.0.1:1: connect:\nconnection refused") }
		}},
		{name: "discovery fails", client: func(c *Client) { c.Discovery = failingGroups{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newClient(t, fixture())
			tt.client(c)
			got, _, _, err := collect(t, c, Options{})
			var ue *UnreachableError
			if !errors.As(err, &ue) || len(got) > 0 {
				t.Fatalf("err %v, objects %q", err, got)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "cannot reach the Kubernetes API server at https://127.0.0.1:6443: ") || strings.Contains(msg, "\n") {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

func TestLoadOptionalAPI(t *testing.T) {
	tests := []struct {
		name       string
		groups     groups
		wantErrors int
	}{
		{name: "istio absent is not an error", groups: allGroups},
		{name: "batch absent is an error", groups: groups{"v1", "apps/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}, wantErrors: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newClient(t, fixture())
			c.Discovery = tt.groups
			_, _, errs, err := collect(t, c, Options{})
			if err != nil || len(errs) != tt.wantErrors {
				t.Fatalf("err %v, errors %v, want %d", err, errs, tt.wantErrors)
			}
		})
	}
}
