// Package cluster reads the objects Rampart's controls need from a live
// Kubernetes API server, for `rampart scan --cluster`.
//
// Design choices (the issue leaves them open):
//
//   - One rest.Config and one HTTP transport serve every client (dynamic,
//     metadata and discovery), built once by New.
//   - Kinds listed (Resources): every pod-bearing kind (Pods, Deployments,
//     ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
//     ReplicationControllers), Services, Ingresses, NetworkPolicies,
//     Namespaces, ServiceAccounts, Roles, ClusterRoles, RoleBindings,
//     ClusterRoleBindings, Secrets (metadata only) and Istio
//     PeerAuthentications when the security.istio.io API is served (found by
//     discovery; a missing CRD is not an error). ConfigMaps are not listed:
//     no control reads them, and not reading them keeps the scanning role
//     smaller and keeps configuration data out of the scanner's memory.
//   - Secrets are listed through the metadata API (PartialObjectMetadataList):
//     Rampart never requests, receives or holds secret data. The
//     kubectl.kubernetes.io/last-applied-configuration annotation, which can
//     hold a whole Secret manifest, is dropped from every object, and so are
//     metadata.managedFields. RBAC cannot grant "list metadata only": a role
//     that allows listing Secrets allows reading them. The deploy/ role
//     therefore grants no access to Secrets, and a Forbidden answer for
//     Secrets is not an error: Secrets are then skipped (the
//     legacy-service-account-token-secret control falls back to the
//     ServiceAccount.secrets references it can see). Any other kind that fails
//     or is forbidden becomes one InputError naming the endpoint and the
//     reason, and the rest of the scan completes.
//   - Full objects are read as raw JSON pages (Client.REST, Accept:
//     application/json) and decoded by internal/k8s/fastjson in one pass
//     into the same values client-go's dynamic client yields, several
//     times faster than the dynamic client's decoding; only items, the
//     continue token and the resourceVersion of a page are kept.
//   - Every LIST is paginated (Options.PageSize, default 500, with the
//     continue token) and the (kind, namespace) lists run in parallel
//     (Options.Parallelism, default 8).
//   - Objects managed by a controller are reported once, on the top-level
//     object: a pod-bearing object whose controller ownerReference names (by
//     UID) another pod-bearing object that was listed is dropped. A Pod of a
//     ReplicaSet of a Deployment is dropped (its owner was listed), and so is
//     the ReplicaSet; a Pod without owner, or whose owner was not listed (a
//     custom resource, or a kind the identity may not list), is kept.
//   - Namespace selection: Options.Namespaces limits namespaced kinds and the
//     Namespace objects to those namespaces (cluster-scoped RBAC objects are
//     always listed: who can do what in a namespace depends on them);
//     Options.ExcludeNamespaces drops objects of those namespaces. Nothing is
//     excluded by default.
//   - Sources: File is "cluster:<context>", Cluster the context name, Server
//     the API server URL and ResourceVersion the object's resourceVersion;
//     there is no line.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/k8s/fastjson"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/oneline"
)

// Resource is one kind a cluster scan lists.
type Resource struct {
	// Group is the API group ("" for the core group).
	Group string
	// Versions are the versions to use, preferred first; the first one the
	// server serves is listed.
	Versions []string
	// Resource is the plural resource name.
	Resource string
	// Kind is the kind of the items.
	Kind string
	// Namespaced says whether the objects live in namespaces.
	Namespaced bool
	// MetadataOnly lists through the metadata API: only metadata is read.
	MetadataOnly bool
	// Optional kinds are skipped without error when their API is not served.
	Optional bool
	// SkipForbidden kinds are skipped without error when listing them is
	// forbidden.
	SkipForbidden bool
}

// Resources are the kinds a cluster scan lists.
var Resources = []Resource{
	{Resource: "pods", Kind: "Pod", Versions: []string{"v1"}, Namespaced: true},
	{Group: "apps", Resource: "deployments", Kind: "Deployment", Versions: []string{"v1"}, Namespaced: true},
	{Group: "apps", Resource: "replicasets", Kind: "ReplicaSet", Versions: []string{"v1"}, Namespaced: true},
	{Group: "apps", Resource: "statefulsets", Kind: "StatefulSet", Versions: []string{"v1"}, Namespaced: true},
	{Group: "apps", Resource: "daemonsets", Kind: "DaemonSet", Versions: []string{"v1"}, Namespaced: true},
	{Group: "batch", Resource: "jobs", Kind: "Job", Versions: []string{"v1"}, Namespaced: true},
	{Group: "batch", Resource: "cronjobs", Kind: "CronJob", Versions: []string{"v1"}, Namespaced: true},
	{Resource: "replicationcontrollers", Kind: "ReplicationController", Versions: []string{"v1"}, Namespaced: true},
	{Resource: "services", Kind: "Service", Versions: []string{"v1"}, Namespaced: true},
	{Group: "networking.k8s.io", Resource: "ingresses", Kind: "Ingress", Versions: []string{"v1"}, Namespaced: true},
	{Group: "networking.k8s.io", Resource: "networkpolicies", Kind: "NetworkPolicy", Versions: []string{"v1"}, Namespaced: true},
	{Resource: "namespaces", Kind: "Namespace", Versions: []string{"v1"}},
	{Resource: "serviceaccounts", Kind: "ServiceAccount", Versions: []string{"v1"}, Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Resource: "roles", Kind: "Role", Versions: []string{"v1"}, Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Kind: "RoleBinding", Versions: []string{"v1"}, Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Kind: "ClusterRole", Versions: []string{"v1"}},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding", Versions: []string{"v1"}},
	{Resource: "secrets", Kind: "Secret", Versions: []string{"v1"}, Namespaced: true, MetadataOnly: true, SkipForbidden: true},
	{Group: "security.istio.io", Resource: "peerauthentications", Kind: "PeerAuthentication", Versions: []string{"v1", "v1beta1"}, Namespaced: true, Optional: true},
}

// workloadKinds are the kinds whose objects own pod-bearing objects.
var workloadKinds = map[string]bool{
	"Pod": true, "Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
}

// Defaults of Options.
const (
	DefaultPageSize    = 500
	DefaultParallelism = 8
	// probeTimeout bounds the first request, which checks the server answers.
	probeTimeout = 10 * time.Second
)

// Options select what a cluster scan lists.
type Options struct {
	// Namespaces limits namespaced kinds to these namespaces; empty means all.
	Namespaces []string
	// ExcludeNamespaces drops the objects of these namespaces.
	ExcludeNamespaces []string
	// PageSize is the LIST page size (limit); 0 means DefaultPageSize.
	PageSize int64
	// Parallelism is the number of concurrent LISTs; 0 means
	// DefaultParallelism.
	Parallelism int
	// Observe, when set, sees every selected object as it is listed,
	// before owner deduplication (so it also sees the Pods that are
	// reported on their controller), from several goroutines at once. It
	// must not keep or change the object.
	Observe func(*k8s.Object)
}

// Client lists a cluster's objects.
type Client struct {
	// Context names the kubeconfig context (Source.Cluster).
	Context string
	// Server is the API server URL (Source.Server).
	Server string
	// REST, when set, lists full objects as raw JSON pages decoded by
	// fastjson; it must decode API errors as the dynamic client does (New
	// builds it with the dynamic client's settings).
	REST rest.Interface
	// Dynamic lists full objects when REST is nil.
	Dynamic dynamic.Interface
	// Metadata lists object metadata only (Secrets).
	Metadata metadata.Interface
	// Discovery tells which API group versions the server serves.
	Discovery discovery.ServerGroupsInterface
	// Probe checks the server answers; nil skips the check.
	Probe func(ctx context.Context) error
}

// New builds a Client on cfg. All its clients share one HTTP transport.
func New(cfg *rest.Config, contextName string) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	raw, err := rest.UnversionedRESTClientForConfigAndClient(rawConfig(cfg), hc)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	md, err := metadata.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return &Client{
		Context:   contextName,
		Server:    cfg.Host,
		REST:      raw,
		Dynamic:   dyn,
		Metadata:  md,
		Discovery: disco,
		Probe: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			return disco.RESTClient().Get().AbsPath("/version").Do(ctx).Error()
		},
	}, nil
}

// rawConfig is the configuration of Client.REST: the dynamic client's
// (its serializer decodes API errors into the same *errors.StatusError),
// accepting JSON only.
func rawConfig(cfg *rest.Config) *rest.Config {
	c := dynamic.ConfigFor(cfg)
	c.GroupVersion = nil
	c.APIPath = ""
	c.ContentType = jsonType
	c.AcceptContentTypes = jsonType
	return c
}

const jsonType = "application/json"

// UnreachableError says the API server could not be reached or refused the
// scanner before any object was listed.
type UnreachableError struct {
	// Server is the API server URL.
	Server string
	// Err is the cause.
	Err error
}

// Error renders the error on one line.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Kubernetes API server at %s: %s", e.Server, oneline.String(e.Err.Error()))
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// task is one LIST: a resource at a version in a namespace ("" = all).
type task struct {
	res       Resource
	version   string
	namespace string
}

// Load lists the cluster's objects and passes each one to emit, from
// several goroutines at once (emit must be safe for concurrent use). A kind
// that cannot be listed becomes an InputError passed to onErr and the rest
// continues. Load returns an *UnreachableError, having emitted nothing, when
// the server cannot be reached or its API groups cannot be read; it returns
// ctx.Err() when ctx ends.
//
// The probe and discovery run alongside the first LISTs: the kinds every
// server serves at a single version are requested at once, and their
// results are held until discovery confirms the kind is served (or dropped,
// with the server, when the probe or discovery fails).
func (c *Client) Load(ctx context.Context, opts Options, emit func(*k8s.Object), onErr func(load.InputError)) error {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	listCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &gate{done: make(chan struct{})}
	go func() {
		defer close(g.done)
		if c.Probe != nil {
			if err := c.Probe(listCtx); err != nil {
				g.err = &UnreachableError{Server: c.Server, Err: err}
				cancel()
				return
			}
		}
		groups, err := c.Discovery.ServerGroups()
		if err != nil {
			g.err = &UnreachableError{Server: c.Server, Err: err}
			cancel()
			return
		}
		g.served = servedVersions(groups)
	}()

	f := &filter{
		include: k8s.NameSet(opts.Namespaces),
		exclude: k8s.NameSet(opts.ExcludeNamespaces),
		listed:  map[string]bool{},
		observe: opts.Observe,
	}
	tasksOf := func(r Resource, v string) []task {
		if r.Namespaced && len(opts.Namespaces) > 0 {
			var ts []task
			for _, ns := range opts.Namespaces {
				ts = append(ts, task{res: r, version: v, namespace: ns})
			}
			return ts
		}
		return []task{{res: r, version: v}}
	}
	work := make(chan task)
	var wg sync.WaitGroup
	for range opts.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				err := c.list(listCtx, t, opts.PageSize, f, g, emit)
				if err == nil || errors.Is(err, errNotServed) || !g.ok() || ctx.Err() != nil {
					continue
				}
				if t.res.SkipForbidden && apierrors.IsForbidden(err) {
					continue
				}
				onErr(load.InputError{File: c.endpoint(t.res, t.version, t.namespace), Message: fmt.Sprintf("cannot list %s: %s", t.res.Kind, reason(err))})
			}
		}()
	}
	send := func(ts []task) bool {
		for _, t := range ts {
			select {
			case work <- t:
			case <-listCtx.Done():
				return false
			}
		}
		return true
	}
	// Speculative LISTs first: kinds with one version that must be served.
	ok := true
	for _, r := range Resources {
		if ok && !r.Optional && len(r.Versions) == 1 {
			ok = send(tasksOf(r, r.Versions[0]))
		}
	}
	if ok && g.ok() {
	discovered:
		for _, r := range Resources {
			v := pickVersion(g.served, r)
			switch {
			case v == "" && !r.Optional:
				onErr(load.InputError{File: c.endpoint(r, r.Versions[0], ""), Message: fmt.Sprintf("cannot list %s: API %s is not served", r.Kind, gv(r.Group, r.Versions[0]))})
			case v == "" || (!r.Optional && len(r.Versions) == 1):
				// Not served and optional, or already listed.
			default:
				if !send(tasksOf(r, v)) {
					break discovered
				}
			}
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if !g.ok() {
		return g.err
	}
	for _, o := range f.held {
		if !f.listed[o.owner] {
			emit(o.obj)
		}
	}
	return nil
}

// errNotServed ends a speculative LIST of a kind the server does not serve.
var errNotServed = errors.New("API not served")

// gate holds the outcome of the probe and discovery, which run alongside the
// first LISTs.
type gate struct {
	done   chan struct{}
	err    error               // an *UnreachableError; set before done closes
	served map[string][]string // served versions by group; set before done closes
}

// ok waits for the probe and discovery and reports whether both succeeded.
func (g *gate) ok() bool {
	<-g.done
	return g.err == nil
}

// serves waits for discovery and reports whether it lists r at version v.
func (g *gate) serves(r Resource, v string) bool {
	return g.ok() && slices.Contains(g.served[r.Group], v)
}

// filter applies the namespace selection and holds the objects owned by a
// controller until every list is done, so that owner deduplication knows
// every listed workload.
type filter struct {
	include, exclude map[string]bool
	mu               sync.Mutex
	listed           map[string]bool // UIDs of listed pod-bearing objects
	held             []heldObject
	observe          func(*k8s.Object) // Options.Observe
}

type heldObject struct {
	obj   *k8s.Object
	owner string
}

// keep reports whether an object of namespace ns (the name for a Namespace)
// is selected.
func (f *filter) keep(ns string) bool {
	if ns == "" {
		return true
	}
	return !f.exclude[ns] && (len(f.include) == 0 || f.include[ns])
}

// add emits obj now, or holds it when a controller owns it.
func (f *filter) add(obj *k8s.Object, emit func(*k8s.Object)) {
	if f.observe != nil {
		f.observe(obj)
	}
	kind := obj.Kind()
	if !workloadKinds[kind] {
		emit(obj)
		return
	}
	md := obj.Metadata()
	owner := controllerUID(md)
	f.mu.Lock()
	if uid := k8s.Str(md, "uid"); uid != "" {
		f.listed[uid] = true
	}
	if owner != "" {
		f.held = append(f.held, heldObject{obj: obj, owner: owner})
	}
	f.mu.Unlock()
	if owner == "" {
		emit(obj)
	}
}

// controllerUID returns the UID of the controller ownerReference of a
// workload kind in md, or "".
func controllerUID(md map[string]any) string {
	for _, r := range k8s.Slice(md, "ownerReferences") {
		ref, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if c, _ := k8s.Bool(ref, "controller"); c && workloadKinds[k8s.Str(ref, "kind")] {
			return k8s.Str(ref, "uid")
		}
	}
	return ""
}

// list runs one paginated LIST and adds its items to f.
//
// It waits for the gate before it uses the first page, so that nothing is
// emitted from a server that failed the probe or discovery, or of a kind
// discovery does not list (errNotServed).
func (c *Client) list(ctx context.Context, t task, pageSize int64, f *filter, g *gate, emit func(*k8s.Object)) error {
	page := c.pager(t)
	lo := metav1.ListOptions{Limit: pageSize}
	for {
		contents, next, err := page(ctx, lo)
		if !g.serves(t.res, t.version) {
			return errNotServed
		}
		if err != nil {
			return err
		}
		for _, content := range contents {
			c.add(content, f, emit)
		}
		if next == "" {
			return nil
		}
		if next == lo.Continue {
			return errors.New("the server sent the same continue token again")
		}
		lo.Continue = next
	}
}

// pager returns the function that lists one page of t: full objects
// through the dynamic client, or metadata only (t.res.MetadataOnly), each
// as content with its apiVersion and kind set.
func (c *Client) pager(t task) func(ctx context.Context, lo metav1.ListOptions) ([]map[string]any, string, error) {
	gvr := schema.GroupVersionResource{Group: t.res.Group, Version: t.version, Resource: t.res.Resource}
	apiVersion := gv(t.res.Group, t.version)
	if t.res.MetadataOnly {
		var ri metadata.ResourceInterface = c.Metadata.Resource(gvr)
		if t.namespace != "" {
			ri = c.Metadata.Resource(gvr).Namespace(t.namespace)
		}
		return func(ctx context.Context, lo metav1.ListOptions) ([]map[string]any, string, error) {
			l, err := ri.List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			out := make([]map[string]any, 0, len(l.Items))
			for i := range l.Items {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l.Items[i].ObjectMeta)
				if err != nil {
					return nil, "", err
				}
				out = append(out, map[string]any{"apiVersion": apiVersion, "kind": t.res.Kind, "metadata": m})
			}
			return out, l.Continue, nil
		}
	}
	if c.REST != nil {
		return c.rawPager(t, apiVersion)
	}
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(gvr)
	if t.namespace != "" {
		ri = c.Dynamic.Resource(gvr).Namespace(t.namespace)
	}
	return func(ctx context.Context, lo metav1.ListOptions) ([]map[string]any, string, error) {
		l, err := ri.List(ctx, lo)
		if err != nil {
			return nil, "", err
		}
		out := make([]map[string]any, 0, len(l.Items))
		for i := range l.Items {
			content := l.Items[i].Object
			content["apiVersion"], content["kind"] = apiVersion, t.res.Kind
			out = append(out, content)
		}
		return out, l.GetContinue(), nil
	}
}

// rawPager returns the function that lists one page of t through c.REST
// and decodes it with fastjson: items, continue token and nothing else.
func (c *Client) rawPager(t task, apiVersion string) func(ctx context.Context, lo metav1.ListOptions) ([]map[string]any, string, error) {
	path := c.path(t.res, t.version, t.namespace)
	dec := fastjson.NewDecoder() // one per LIST: pages are read in turn
	return func(ctx context.Context, lo metav1.ListOptions) ([]map[string]any, string, error) {
		req := c.REST.Get().AbsPath(path).SetHeader("Accept", jsonType)
		if lo.Limit > 0 {
			req = req.Param("limit", strconv.FormatInt(lo.Limit, 10))
		}
		if lo.Continue != "" {
			req = req.Param("continue", lo.Continue)
		}
		var ct string
		res := req.Do(ctx).ContentType(&ct)
		if err := res.Error(); err != nil { // an API Status as *errors.StatusError
			return nil, "", err
		}
		body, _ := res.Raw()
		if mt, _, _ := mime.ParseMediaType(ct); mt != jsonType {
			return nil, "", fmt.Errorf("the server answered %q, not JSON", ct)
		}
		l, err := dec.DecodeList(body)
		if err != nil {
			return nil, "", fmt.Errorf("decoding the list: %w", err)
		}
		for _, content := range l.Items {
			content["apiVersion"], content["kind"] = apiVersion, t.res.Kind
		}
		return l.Items, l.Continue, nil
	}
}

// add cleans one listed object and passes it through the filter.
func (c *Client) add(content map[string]any, f *filter, emit func(*k8s.Object)) {
	md, _ := content["metadata"].(map[string]any)
	if md == nil {
		return
	}
	delete(md, "managedFields")
	if ann, ok := md["annotations"].(map[string]any); ok {
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	kind := k8s.Str(content, "kind")
	ns := k8s.Str(md, "namespace")
	if kind == "Namespace" {
		ns = k8s.Str(md, "name")
	}
	if !f.keep(ns) {
		return
	}
	// fastjson and client-go's unstructured decoding yield int64 and float64.
	obj := k8s.NewObject(content, k8s.Source{
		File:            "cluster:" + c.Context,
		Cluster:         c.Context,
		Server:          c.Server,
		ResourceVersion: k8s.Str(md, "resourceVersion"),
	})
	f.add(obj, emit)
}

// endpoint is the URL of a LIST, used as the File of its errors.
func (c *Client) endpoint(r Resource, version, namespace string) string {
	return strings.TrimSuffix(c.Server, "/") + c.path(r, version, namespace)
}

// path is the absolute path of a LIST.
func (c *Client) path(r Resource, version, namespace string) string {
	var b strings.Builder
	if r.Group == "" {
		b.WriteString("/api/" + version)
	} else {
		b.WriteString("/apis/" + r.Group + "/" + version)
	}
	if namespace != "" {
		b.WriteString("/namespaces/" + namespace)
	}
	b.WriteString("/" + r.Resource)
	return b.String()
}

// servedVersions maps each served API group to its served versions.
func servedVersions(groups *metav1.APIGroupList) map[string][]string {
	out := map[string][]string{}
	if groups == nil {
		return out
	}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			out[g.Name] = append(out[g.Name], v.Version)
		}
	}
	return out
}

// pickVersion returns the first of r's versions the server serves, or "".
func pickVersion(served map[string][]string, r Resource) string {
	for _, v := range r.Versions {
		if slices.Contains(served[r.Group], v) {
			return v
		}
	}
	return ""
}

func gv(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// reason renders an API error on one line, with its HTTP status reason.
func reason(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		r := string(st.Reason)
		if r == "" {
			r = http.StatusText(int(st.Code))
		}
		return strings.ToLower(r) + ": " + oneline.String(st.Message)
	}
	return oneline.String(err.Error())
}
