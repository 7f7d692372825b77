package netpol

import (
	"context"
	"fmt"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/pager"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// LoadFiles reads paths with the scan's loader (files, directories, stdin,
// Helm charts and Kustomize overlays through opts.Renderers) into an
// inventory. Input problems are returned; everything readable is kept.
func LoadFiles(ctx context.Context, paths []string, opts load.Options) (*k8s.Inventory, []load.InputError) {
	inv := k8s.NewInventory()
	errs := load.Objects(ctx, paths, opts, func(obj *k8s.Object) { inv.Add(k8s.EntryFor(obj)) })
	return inv, errs
}

// clusterResource is a kind the analysis lists from a cluster.
type clusterResource struct {
	gvr  schema.GroupVersionResource
	kind string
}

// clusterResources are the kinds the analysis reads: namespaces (labels),
// policies, Services (for suggest) and every workload kind.
var clusterResources = []clusterResource{
	{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "Namespace"},
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, "NetworkPolicy"},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service"},
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	{schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, "ReplicationController"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob"},
}

// controllerKinds are the owners whose children the analysis skips: their
// pods are analysed once, through the top-level workload.
var controllerKinds = map[string]bool{
	"Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
}

// LoadCluster lists the kinds the analysis reads from a cluster, in
// parallel and with pagination, into an inventory. namespace limits the
// namespaced kinds to one namespace ("" for all). Objects controlled by a
// workload (a Deployment's ReplicaSets, their Pods) are skipped. A kind that
// cannot be listed is returned as an error; the others are still read.
func LoadCluster(ctx context.Context, client dynamic.Interface, src k8s.Source, namespace string) (*k8s.Inventory, []error) {
	inv := k8s.NewInventory()
	type listed struct {
		objs []*k8s.Object
		err  error
	}
	results := make([]listed, len(clusterResources))
	var wg sync.WaitGroup
	for i, r := range clusterResources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ri dynamic.ResourceInterface = client.Resource(r.gvr)
			if r.kind != "Namespace" {
				ri = client.Resource(r.gvr).Namespace(namespace)
			}
			p := pager.New(pager.SimplePageFunc(func(opts metav1.ListOptions) (runtime.Object, error) {
				return ri.List(ctx, opts)
			}))
			p.PageSize = 500
			err := p.EachListItem(ctx, metav1.ListOptions{}, func(o runtime.Object) error {
				u, ok := o.(*unstructured.Unstructured)
				if !ok || controlled(u) {
					return nil
				}
				u.SetKind(r.kind)
				u.SetAPIVersion(r.gvr.GroupVersion().String())
				s := src
				s.ResourceVersion = u.GetResourceVersion()
				results[i].objs = append(results[i].objs, k8s.NewObject(u.Object, s))
				return nil
			})
			if err != nil {
				results[i].err = fmt.Errorf("listing %s: %w", r.gvr.GroupResource(), err)
			}
		}()
	}
	wg.Wait()
	var errs []error
	for _, res := range results {
		if res.err != nil {
			errs = append(errs, res.err)
		}
		sort.SliceStable(res.objs, func(a, b int) bool {
			return res.objs[a].Namespace()+"/"+res.objs[a].Name() < res.objs[b].Namespace()+"/"+res.objs[b].Name()
		})
		for _, o := range res.objs {
			inv.Add(k8s.EntryFor(o))
		}
	}
	return inv, errs
}

// controlled reports whether a workload controller owns u.
func controlled(u *unstructured.Unstructured) bool {
	for _, ref := range u.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && controllerKinds[ref.Kind] {
			return true
		}
	}
	return false
}
