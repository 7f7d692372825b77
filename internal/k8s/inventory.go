package k8s

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unique"

	"github.com/fxamacker/cbor/v2"
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
	// Labels are the object's labels, kept only for the kinds whose own
	// labels are selected by others (LabelKinds); nil otherwise.
	Labels map[string]string
	// Annotations are the object's rampart.dev/ annotations (exceptions);
	// other annotations are not kept.
	Annotations map[string]string
	// Pod holds pod template facts for pod-bearing kinds, nil otherwise.
	Pod *PodFacts
	// content is the object's apiVersion, kind, metadata name, namespace and
	// labels, and spec, as CBOR (compact, and several times faster to encode
	// and decode than JSON), for the small kinds that
	// cross-object analysis reads in full (see RetainedKinds); nil otherwise.
	content []byte
	// lines are the lines of the fields cross-object controls report on.
	lines []pathLine
}

// pathLine is the line of one field.
type pathLine struct {
	path string
	line int32
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
	for _, pl := range e.lines {
		p := pl.path
		if len(p) > bestLen && (path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")) {
			best, bestLen = int(pl.line), len(p)
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
	// ContainerPaths are the field paths of the containers of Images, in
	// the same order.
	ContainerPaths []string
	// Path is the pod spec's field path.
	Path string
	// MetaPath is the pod metadata's field path.
	MetaPath string
	// Ports are the containers' declared ports (containerPort, name and
	// protocol), which NetworkPolicy named ports resolve against.
	Ports []Port
}

// ContainerPath returns the field path of the container of Images[i], or
// the pod spec's path when it is not known.
func (p *PodFacts) ContainerPath(i int) string {
	if i < len(p.ContainerPaths) {
		return p.ContainerPaths[i]
	}
	return p.Path
}

// Port is one declared container port.
type Port struct {
	// Name is the port's name ("" when unnamed).
	Name string
	// Port is the containerPort number.
	Port int32
	// Protocol is TCP, UDP or SCTP (TCP when unset).
	Protocol string
}

// RetainedKinds are kept whole in the Inventory; they are small and are read
// by cross-object controls.
var RetainedKinds = map[string]bool{
	"NetworkPolicy": true, "Service": true, "Ingress": true, "Namespace": true,
	"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true,
}

// retainedFields are the top-level fields a retained kind keeps besides
// apiVersion, kind and metadata; "spec" for kinds not listed. RBAC objects
// have no spec: the RBAC graph reads their rules, aggregation rule, role
// reference and subjects.
var retainedFields = map[string][]string{
	"Role":               {"rules"},
	"ClusterRole":        {"rules", "aggregationRule"},
	"RoleBinding":        {"roleRef", "subjects"},
	"ClusterRoleBinding": {"roleRef", "subjects"},
}

// Content decodes the object's apiVersion, kind, metadata (name,
// namespace, labels) and spec (for RBAC kinds: rules, aggregationRule,
// roleRef, subjects) for the kinds in RetainedKinds; it returns nil
// for other kinds. Each call decodes afresh: the Inventory keeps objects
// compact, and callers own the result.
func (e *Entry) Content() map[string]any {
	if e.content == nil {
		return nil
	}
	var m map[string]any
	if err := contentDec.Unmarshal(e.content, &m); err != nil {
		return nil
	}
	return m
}

// contentEnc and contentDec encode retained content as CBOR and decode it
// back into the types the YAML and JSON decoders produce: map[string]any,
// []any, string, int64, float64, bool and nil.
var (
	contentEnc = mustEncMode(cbor.EncOptions{Sort: cbor.SortNone, ShortestFloat: cbor.ShortestFloatNone})
	contentDec = mustDecMode(cbor.DecOptions{
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		IntDec:           cbor.IntDecConvertSignedOrFail,
		MaxNestedLevels:  256,
		MaxArrayElements: 1 << 24,
		MaxMapPairs:      1 << 24,
	})
)

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// NormalizeNumbers turns the json.Numbers of JSON decoded with UseNumber
// into int64 or float64, in place, as the YAML decoder produces them.
func NormalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = NormalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = NormalizeNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// LabelKinds are the kinds whose own labels the Inventory keeps: namespace
// selectors read them.
var LabelKinds = map[string]bool{"Namespace": true}

// AnnotationPrefix selects the annotations the Inventory keeps.
const AnnotationPrefix = "rampart.dev/"

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
	ref := obj.Ref()
	ref.APIVersion, ref.Kind, ref.Namespace = intern(ref.APIVersion), intern(ref.Kind), intern(ref.Namespace)
	e := &Entry{Ref: ref, Source: obj.Source}
	md := obj.Metadata()
	if LabelKinds[e.Ref.Kind] {
		e.Labels = obj.Labels()
	}
	e.Annotations = RampartAnnotations(md)
	if ps, ok := PodSpecOf(obj); ok {
		pf := &PodFacts{
			Labels:         internMap(ps.Labels()),
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
			pf.ContainerPaths = append(pf.ContainerPaths, c.Path)
			pf.Ports = appendPorts(pf.Ports, c.Spec)
		}
		e.Pod = pf
	}
	if RetainedKinds[e.Ref.Kind] {
		meta := map[string]any{"name": Str(md, "name"), "namespace": Str(md, "namespace")}
		if l := Map(md, "labels"); l != nil {
			meta["labels"] = l
		}
		c := map[string]any{"apiVersion": obj.APIVersion(), "kind": e.Ref.Kind, "metadata": meta}
		fields, ok := retainedFields[e.Ref.Kind]
		if !ok {
			fields = []string{"spec"}
		}
		for _, f := range fields {
			if v, ok := obj.Content[f]; ok {
				c[f] = v
			}
		}
		if b, err := contentEnc.Marshal(c); err == nil {
			e.content = b
		}
	}
	e.remember(obj, linePaths[e.Ref.Kind]...)
	if e.Ref.Kind == "NetworkPolicy" {
		// Rule lines, for NetworkPolicy analysis to point at the deciding rule.
		for _, dir := range [...]string{"ingress", "egress"} {
			for i := range Slice(Map(obj.Content, "spec"), dir) {
				e.remember(obj, Index("spec."+dir, i))
			}
		}
	}
	return e
}

// RampartAnnotations returns the rampart.dev/ annotations (exceptions) of
// the object metadata md, or nil when it has none.
func RampartAnnotations(md map[string]any) map[string]string {
	var out map[string]string
	for k, v := range Map(md, "annotations") {
		if s, ok := v.(string); ok && strings.HasPrefix(k, AnnotationPrefix) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = s
		}
	}
	return out
}

// appendPorts appends the ports a container declares.
func appendPorts(out []Port, container map[string]any) []Port {
	for _, item := range Slice(container, "ports") {
		p, ok := item.(map[string]any)
		if !ok {
			continue
		}
		n, ok := Int(p, "containerPort")
		if !ok || n < 1 || n > 65535 {
			continue
		}
		proto := Str(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		out = append(out, Port{Name: intern(Str(p, "name")), Port: int32(n), Protocol: intern(proto)})
	}
	return out
}

// intern returns the canonical copy of s; kinds, namespaces, label keys and
// values repeat across the objects of a scan.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

func internMap(m map[string]string) map[string]string {
	for k, v := range m {
		m[intern(k)] = intern(v)
	}
	return m
}

// remember records the lines of paths that exist in obj.
func (e *Entry) remember(obj *Object, paths ...string) {
	for _, p := range paths {
		if l := obj.LineExact(p); l > 0 {
			e.lines = append(e.lines, pathLine{path: p, line: int32(l)})
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
