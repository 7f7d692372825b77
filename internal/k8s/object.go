package k8s

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Source says where an object came from.
type Source struct {
	// File is the path of the file the object was read from (a template file
	// for Helm, the origin file for Kustomize, "-" for stdin).
	File string `json:"file"`
	// Line is the 1-based line of the object's first line in File, 0 if unknown.
	Line int `json:"line,omitempty"`
	// Origin names the renderer that produced the object, such as
	// "helm:chart/path" or "kustomize:overlay/path"; empty for plain files.
	Origin string `json:"origin,omitempty"`
	// Cluster names the kubeconfig context an object was read from by a
	// cluster scan ("in-cluster" for a Pod's service account); empty for
	// files. File is "cluster:<context>" then, and Line is 0.
	Cluster string `json:"cluster,omitempty"`
	// Server is the API server URL of a cluster scan.
	Server string `json:"server,omitempty"`
	// ResourceVersion is metadata.resourceVersion of an object read from a
	// cluster: the version the findings are about.
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// Ref identifies an object.
type Ref struct {
	// APIVersion is the object's apiVersion.
	APIVersion string `json:"apiVersion"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// Namespace is the object's namespace; empty for cluster-scoped objects.
	Namespace string `json:"namespace"`
	// Name is the object's metadata.name (or generateName).
	Name string `json:"name"`
}

// String renders the reference as Kind/namespace/name.
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Object is one Kubernetes object in unstructured form plus its provenance.
type Object struct {
	// Source is where the object was read from.
	Source Source
	// Content is the object as decoded JSON-compatible data
	// (map[string]any, []any, string, int64, float64, bool, nil).
	Content map[string]any
	// node is the YAML node the object was decoded from; it resolves field
	// paths to lines. It may be nil (objects from a cluster or from JSON).
	node *yaml.Node
	// lineBase is added to lines found through node.
	lineBase int
	// patches are documents of other files that changed the object
	// (Kustomize patches), most recent last; Locate prefers them.
	patches []Patch
	// lineMap translates the node's lines (in rendered output) to lines of
	// Source.File (the template); 0 means no counterpart.
	lineMap func(int) int
}

// WithLineMap makes field lines go through m, which maps lines of the text
// the node was parsed from to lines of Source.File (Helm templates). Lines
// m maps to 0 fall back to the object's own line.
func (o *Object) WithLineMap(m func(int) int) *Object {
	o.lineMap = m
	return o
}

// mapLine applies lineBase and lineMap to a node line.
func (o *Object) mapLine(l int) int {
	l += o.lineBase
	if o.lineMap == nil {
		return l
	}
	if m := o.lineMap(l); m > 0 {
		return m
	}
	return o.Source.Line
}

// Patch is a document of another file that was merged into the object.
type Patch struct {
	// File is the patch file's path.
	File string
	// Node is the patch document's YAML node.
	Node *yaml.Node
}

// WithPatches records documents merged into the object after it was read
// from its own file, so that Locate can point at the patch that set a field.
func (o *Object) WithPatches(p []Patch) *Object {
	o.patches = p
	return o
}

// NewObject returns an Object for content read from src.
func NewObject(content map[string]any, src Source) *Object {
	return &Object{Content: content, Source: src}
}

// WithNode attaches the YAML node the object was decoded from so that
// field paths can be resolved to lines. base is added to every line.
func (o *Object) WithNode(n *yaml.Node, base int) *Object {
	o.node = n
	o.lineBase = base
	return o
}

// Release drops the YAML nodes so the object no longer pins parse trees.
func (o *Object) Release() { o.node, o.patches, o.lineMap = nil, nil, nil }

// Locate returns the file and line of the field at path: the most recent
// patch that sets it, else the object's own file at the field or, when the
// field is absent, at its deepest existing ancestor.
func (o *Object) Locate(path string) (file string, line int) {
	if len(o.patches) > 0 && path != "" {
		segs := splitPath(path)
		for i := len(o.patches) - 1; i >= 0; i-- {
			if l := o.walk(o.patches[i].Node, segs, true); l > 0 {
				return o.patches[i].File, l
			}
		}
	}
	return o.Source.File, o.Line(path)
}

// APIVersion returns apiVersion.
func (o *Object) APIVersion() string { return Str(o.Content, "apiVersion") }

// Kind returns kind.
func (o *Object) Kind() string { return Str(o.Content, "kind") }

// Metadata returns the metadata map, or nil.
func (o *Object) Metadata() map[string]any { return Map(o.Content, "metadata") }

// Name returns metadata.name, or metadata.generateName when name is empty.
func (o *Object) Name() string {
	md := o.Metadata()
	if n := Str(md, "name"); n != "" {
		return n
	}
	return Str(md, "generateName")
}

// Namespace returns metadata.namespace.
func (o *Object) Namespace() string { return Str(o.Metadata(), "namespace") }

// SetNamespace sets metadata.namespace.
func (o *Object) SetNamespace(ns string) {
	md := o.Metadata()
	if md == nil {
		md = map[string]any{}
		o.Content["metadata"] = md
	}
	md["namespace"] = ns
}

// Labels returns metadata.labels as strings.
func (o *Object) Labels() map[string]string { return StringMap(o.Metadata(), "labels") }

// Annotations returns metadata.annotations as strings.
func (o *Object) Annotations() map[string]string { return StringMap(o.Metadata(), "annotations") }

// Ref returns the object's reference.
func (o *Object) Ref() Ref {
	return Ref{APIVersion: o.APIVersion(), Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name()}
}

// Group returns the API group of apiVersion ("" for the core group).
func (o *Object) Group() string {
	av := o.APIVersion()
	if i := strings.IndexByte(av, '/'); i >= 0 {
		return av[:i]
	}
	return ""
}

// Line returns the line of the field at path (dotted, with [i] indexes, as in
// "spec.containers[0].image"). When the field is absent it returns the line of
// the deepest existing ancestor; when no node is attached, the object's line.
func (o *Object) Line(path string) int {
	if o.node == nil || path == "" {
		return o.Source.Line
	}
	if l := o.walk(o.node, splitPath(path), false); l > 0 {
		return o.mapLine(l)
	}
	return o.Source.Line
}

// walk follows segs from n and returns the line of the last segment found.
// With exact, it returns 0 unless every segment is found. List items are
// matched by their "name" in the object's content when they have one, as
// strategic merge patches match them, else by index.
func (o *Object) walk(n *yaml.Node, segs []string, exact bool) int {
	line := n.Line
	var cur any = o.Content
	for _, seg := range segs {
		next, keyLine := child(n, seg)
		var val any
		switch c := cur.(type) {
		case map[string]any:
			val = c[seg]
		case []any:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(c) {
				val = c[i]
				if name, ok := k8sName(val); ok {
					if m, ml := childByName(n, name); m != nil {
						next, keyLine = m, ml
					} else if exact {
						return 0
					}
				}
			}
		}
		if next == nil {
			if exact {
				return 0
			}
			break
		}
		n, line, cur = next, keyLine, val
	}
	return line
}

func k8sName(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	name, ok := m["name"].(string)
	return name, ok && name != ""
}

// childByName finds the sequence item of n whose "name" is name.
func childByName(n *yaml.Node, name string) (*yaml.Node, int) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		return nil, 0
	}
	for _, it := range n.Content {
		if v := mapChild(it, "name"); v != nil && v.Value == name {
			return it, it.Line
		}
	}
	return nil, 0
}

func mapChild(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// LineExact returns the line of the field at path, or 0 when the field is
// absent or no YAML node is attached.
func (o *Object) LineExact(path string) int {
	if o.node == nil {
		return 0
	}
	if l := o.walk(o.node, splitPath(path), true); l > 0 {
		return o.mapLine(l)
	}
	return 0
}

// child returns the child of n for one path segment and the line where the
// segment is written (the key's line for mappings).
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return child(n.Content[0], seg)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// splitPath turns "a.b[0].c" into ["a","b","0","c"]. Keys containing dots
// are written in brackets with quotes: metadata.annotations["a.b/c"].
func splitPath(p string) []string {
	segs := make([]string, 0, 8)
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if len(p) > 1 && p[1] == '"' {
				end = strings.Index(p, "\"]")
				if end < 0 {
					return append(segs, p[2:])
				}
				segs = append(segs, p[2:end])
				p = p[end+2:]
				continue
			}
			if end < 0 {
				return append(segs, p[1:])
			}
			segs = append(segs, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				return append(segs, p)
			}
			segs = append(segs, p[:end])
			p = p[end:]
		}
	}
	return segs
}

// Key renders a map key as a path segment, quoting keys that contain dots or
// slashes: Key("metadata.annotations", "a.b/c") == `metadata.annotations["a.b/c"]`.
func Key(prefix, key string) string {
	if strings.ContainsAny(key, "./[]") {
		return prefix + `["` + key + `"]`
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// Index renders prefix[i].
func Index(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }
