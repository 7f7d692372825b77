package auditlog

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/rbac"
)

// Inventory is a read-only, informer-backed view of a cluster for
// enrichment: pods and their owners (ReplicaSets, Deployments,
// StatefulSets, DaemonSets, Jobs, CronJobs), Services, Ingresses,
// ServiceAccounts and RBAC. It needs list and watch on those resources.
type Inventory struct {
	factory informers.SharedInformerFactory
	log     *slog.Logger
	cancel  context.CancelFunc

	rbacGen  atomic.Uint64
	mu       sync.Mutex
	graph    *rbac.Graph
	graphGen uint64
	risks    map[string][]string
}

// NewInventory creates the informers (not started).
func NewInventory(cs kubernetes.Interface, log *slog.Logger) *Inventory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inv := &Inventory{factory: informers.NewSharedInformerFactory(cs, 0), log: log}
	f := inv.factory
	// Register every informer before Start; pods are indexed by
	// ServiceAccount for the usual-secret-reader baseline.
	if err := f.Core().V1().Pods().Informer().AddIndexers(cache.Indexers{saIndex: podServiceAccount}); err != nil {
		log.Error("inventory: pod index", "error", err)
	}
	f.Core().V1().Services().Informer()
	f.Core().V1().ServiceAccounts().Informer()
	f.Apps().V1().ReplicaSets().Informer()
	f.Apps().V1().Deployments().Informer()
	f.Apps().V1().StatefulSets().Informer()
	f.Apps().V1().DaemonSets().Informer()
	f.Batch().V1().Jobs().Informer()
	f.Batch().V1().CronJobs().Informer()
	f.Networking().V1().Ingresses().Informer()
	bump := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { inv.rbacGen.Add(1) },
		UpdateFunc: func(any, any) { inv.rbacGen.Add(1) },
		DeleteFunc: func(any) { inv.rbacGen.Add(1) },
	}
	for _, inf := range []cache.SharedIndexInformer{
		f.Rbac().V1().Roles().Informer(), f.Rbac().V1().RoleBindings().Informer(),
		f.Rbac().V1().ClusterRoles().Informer(), f.Rbac().V1().ClusterRoleBindings().Informer(),
	} {
		if _, err := inf.AddEventHandler(bump); err != nil {
			log.Error("inventory: RBAC event handler", "error", err)
		}
	}
	return inv
}

// Start starts the informers and waits (at most timeout) for their first
// LIST; it returns an error naming the informers not synced then (they go
// on syncing).
func (inv *Inventory) Start(ctx context.Context, timeout time.Duration) error {
	ctx, inv.cancel = context.WithCancel(ctx)
	inv.factory.Start(ctx.Done())
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var missing []string
	for typ, ok := range inv.factory.WaitForCacheSync(wctx.Done()) {
		if !ok {
			missing = append(missing, typ.String())
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("inventory: not synced after %s: %v", timeout, missing)
	}
	return nil
}

// Shutdown stops the informers and waits for them to end.
func (inv *Inventory) Shutdown() {
	if inv.cancel != nil {
		inv.cancel()
	}
	inv.factory.Shutdown()
}

// Pod implements Lookup.
func (inv *Inventory) Pod(ns, name string) (*corev1.Pod, bool) {
	p, err := inv.factory.Core().V1().Pods().Lister().Pods(ns).Get(name)
	return p, err == nil
}

func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// Workload implements Lookup.
func (inv *Inventory) Workload(pod *corev1.Pod) (kind, name string) {
	ref := controllerOf(pod.OwnerReferences)
	if ref == nil {
		return "Pod", pod.Name
	}
	kind, name = ref.Kind, ref.Name
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := inv.factory.Apps().V1().ReplicaSets().Lister().ReplicaSets(pod.Namespace).Get(ref.Name)
		if err == nil {
			if up := controllerOf(rs.OwnerReferences); up != nil && up.Kind == "Deployment" {
				return up.Kind, up.Name
			}
		}
	case "Job":
		job, err := inv.factory.Batch().V1().Jobs().Lister().Jobs(pod.Namespace).Get(ref.Name)
		if err == nil {
			if up := controllerOf(job.OwnerReferences); up != nil && up.Kind == "CronJob" {
				return up.Kind, up.Name
			}
		}
	}
	return kind, name
}

// Exposure implements Lookup.
func (inv *Inventory) Exposure(pod *corev1.Pod) []string {
	svcs, err := inv.factory.Core().V1().Services().Lister().Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	podLabels := labels.Set(pod.Labels)
	selecting := map[string]bool{}
	var out []string
	for _, s := range svcs {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			continue
		}
		selecting[s.Name] = true
		switch s.Spec.Type {
		case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
			out = append(out, fmt.Sprintf("Service/%s type %s", s.Name, s.Spec.Type))
		}
		if len(s.Spec.ExternalIPs) > 0 {
			out = append(out, fmt.Sprintf("Service/%s externalIPs %v", s.Name, s.Spec.ExternalIPs))
		}
	}
	if len(selecting) == 0 {
		return out
	}
	ings, err := inv.factory.Networking().V1().Ingresses().Lister().Ingresses(pod.Namespace).List(labels.Everything())
	if err != nil {
		return out
	}
	for _, ing := range ings {
		routes := false
		if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil && selecting[b.Service.Name] {
			routes = true
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service != nil && selecting[p.Backend.Service.Name] {
					routes = true
				}
			}
		}
		if routes {
			out = append(out, "Ingress/"+ing.Name)
		}
	}
	slices.Sort(out)
	return out
}

// saIndex indexes pods by namespace/ServiceAccount.
const saIndex = "serviceAccount"

func podServiceAccount(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	return []string{p.Namespace + "/" + cmp.Or(p.Spec.ServiceAccountName, "default")}, nil
}

// PodServiceAccount implements Lookup.
func (inv *Inventory) PodServiceAccount(ns, sa string) bool {
	pods, err := inv.factory.Core().V1().Pods().Informer().GetIndexer().ByIndex(saIndex, ns+"/"+sa)
	return err == nil && len(pods) > 0
}

// Risks implements Lookup: the ServiceAccount's risky permissions
// ("risk-id: reason"), from the RBAC graph rebuilt after RBAC changes.
func (inv *Inventory) Risks(ns, name string) []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if gen := inv.rbacGen.Load(); inv.graph == nil || gen != inv.graphGen {
		inv.graph, inv.graphGen = inv.buildGraph(), gen
		inv.risks = map[string][]string{}
	}
	key := ns + "/" + name
	if r, ok := inv.risks[key]; ok {
		return r
	}
	id := rbac.Subject{Kind: rbac.KindServiceAccount, Namespace: ns, Name: name}.Identity()
	var out []string
	seen := map[string]bool{}
	for _, rg := range rbac.Assess(inv.graph.Permissions(id)) {
		for _, r := range rg.Risks {
			s := r.ID + ": " + r.Reason + " (" + rg.Grant.Binding.String() + ")"
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if len(inv.risks) < 100000 {
		inv.risks[key] = out
	}
	return out
}

func (inv *Inventory) buildGraph() *rbac.Graph {
	var b rbac.Builder
	src := k8s.Source{File: "cluster:informers"}
	add := func(kind string, obj runtime.Object) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return
		}
		m["apiVersion"], m["kind"] = rbac.Group+"/v1", kind
		b.AddContent(m, src)
	}
	f := inv.factory.Rbac().V1()
	if l, err := f.ClusterRoles().Lister().List(labels.Everything()); err == nil {
		for _, o := range l {
			add("ClusterRole", o)
		}
	}
	if l, err := f.Roles().Lister().List(labels.Everything()); err == nil {
		for _, o := range l {
			add("Role", o)
		}
	}
	if l, err := f.ClusterRoleBindings().Lister().List(labels.Everything()); err == nil {
		for _, o := range l {
			add("ClusterRoleBinding", o)
		}
	}
	if l, err := f.RoleBindings().Lister().List(labels.Everything()); err == nil {
		for _, o := range l {
			add("RoleBinding", o)
		}
	}
	return b.Build()
}
