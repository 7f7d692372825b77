package k8s

import (
	"sort"
	"strings"
	"sync"
)

// Entry is what the Inventory keeps of one object: enough for cross-object
// analysis without retaining the whole object.
type Entry struct {
	// ID is the object's index in the scan (its position in Result.Objects).
	ID int
	// Ref identifies the object.
	Ref Ref
	// Source is where the object came from.
	Source Source
	// Labels are the object's labels.
	Labels map[string]string
	// Annotations are the object's annotations.
	Annotations map[string]string
	// Pod holds pod template facts for pod-bearing kinds, nil otherwise.
	Pod *PodFacts
	// Content is the whole object for the small kinds that cross-object
	// analysis reads in full (see RetainedKinds); nil otherwise.
	Content map[string]any
	// lines maps the field paths cross-object controls report on to lines.
	lines map[string]int
}

// linePaths are the fields whose lines an Entry remembers, so that
// cross-object findings point at the offending field after the YAML node is
// gone. Deeper paths resolve to their nearest remembered ancestor.
var linePaths = map[string][]string{
	"Service":       {"spec", "spec.type", "spec.selector", "spec.ports", "spec.externalIPs", "spec.loadBalancerSourceRanges"},
	"Ingress":       {"spec", "spec.rules", "spec.defaultBackend", "spec.tls", "spec.ingressClassName"},
	"NetworkPolicy": {"spec", "spec.podSelector", "spec.ingress", "spec.egress", "spec.policyTypes"},
	"Namespace":     {"metadata.labels"},
}

// Line returns the line of path in the object: the line of the longest
// remembered prefix of path, or the object's first line.
func (e *Entry) Line(path string) int {
	best, bestLen := 0, -1
	for p, l := range e.lines {
		if l > 0 && len(p) > bestLen && (path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")) {
			best, bestLen = l, len(p)
		}
	}
	if bestLen < 0 {
		return e.Source.Line
	}
	return best
}

// PodFacts summarises a pod template.
type PodFacts struct {
	// Labels are the pod template's labels.
	Labels map[string]string
	// ServiceAccount is spec.serviceAccountName ("" means default).
	ServiceAccount string
	// Images lists every container's image.
	Images []string
	// Path is the pod spec's field path.
	Path string
	// MetaPath is the pod metadata's field path.
	MetaPath string
}

// RetainedKinds are kept whole in the Inventory; they are small and are read
// by cross-object controls.
var RetainedKinds = map[string]bool{
	"NetworkPolicy": true, "Service": true, "Ingress": true, "Namespace": true,
}

// Inventory indexes every object of one scan by kind and namespace.
// It is safe for concurrent Add.
type Inventory struct {
	mu      sync.Mutex
	entries []*Entry
	byKind  map[string][]*Entry
}

// NewInventory returns an empty Inventory.
func NewInventory() *Inventory {
	return &Inventory{byKind: map[string][]*Entry{}}
}

// EntryFor builds the inventory entry of obj without adding it.
func EntryFor(obj *Object) *Entry {
	e := &Entry{Ref: obj.Ref(), Source: obj.Source, Labels: obj.Labels(), Annotations: obj.Annotations()}
	if ps, ok := PodSpecOf(obj); ok {
		pf := &PodFacts{
			Labels:         ps.Labels(),
			ServiceAccount: Str(ps.Spec, "serviceAccountName"),
			Path:           ps.Path,
			MetaPath:       ps.MetaPath,
		}
		e.remember(obj, ps.MetaPath, ps.MetaPath+".labels", ps.Path, ps.Path+".serviceAccountName")
		if pf.ServiceAccount == "" {
			pf.ServiceAccount = Str(ps.Spec, "serviceAccount")
		}
		for _, c := range ps.Containers() {
			pf.Images = append(pf.Images, Str(c.Spec, "image"))
		}
		e.Pod = pf
	}
	if RetainedKinds[e.Ref.Kind] {
		e.Content = obj.Content
	}
	e.remember(obj, linePaths[e.Ref.Kind]...)
	return e
}

// remember records the lines of paths that exist in obj.
func (e *Entry) remember(obj *Object, paths ...string) {
	for _, p := range paths {
		if l := obj.LineExact(p); l > 0 {
			if e.lines == nil {
				e.lines = make(map[string]int, len(paths))
			}
			e.lines[p] = l
		}
	}
}

// Add records e and assigns its ID.
func (inv *Inventory) Add(e *Entry) {
	inv.mu.Lock()
	e.ID = len(inv.entries)
	inv.entries = append(inv.entries, e)
	inv.byKind[e.Ref.Kind] = append(inv.byKind[e.Ref.Kind], e)
	inv.mu.Unlock()
}

// Len returns the number of entries.
func (inv *Inventory) Len() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return len(inv.entries)
}

// Entries returns every entry in ID order.
func (inv *Inventory) Entries() []*Entry {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.entries
}

// Kind returns the entries of one kind.
func (inv *Inventory) Kind(kind string) []*Entry {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.byKind[kind]
}

// Workloads returns every pod-bearing entry, sorted by ID.
func (inv *Inventory) Workloads() []*Entry {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var out []*Entry
	for _, e := range inv.entries {
		if e.Pod != nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
