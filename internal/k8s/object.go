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

// Release drops the YAML node so the object no longer pins the parse tree.
func (o *Object) Release() { o.node = nil }

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
	n := o.node
	line := n.Line
	for _, seg := range splitPath(path) {
		next, keyLine := child(n, seg)
		if next == nil {
			break
		}
		n = next
		line = keyLine
	}
	if line == 0 {
		return o.Source.Line
	}
	return line + o.lineBase
}

// LineExact returns the line of the field at path, or 0 when the field is
// absent or no YAML node is attached.
func (o *Object) LineExact(path string) int {
	if o.node == nil {
		return 0
	}
	n := o.node
	line := 0
	for _, seg := range splitPath(path) {
		next, keyLine := child(n, seg)
		if next == nil {
			return 0
		}
		n, line = next, keyLine
	}
	if line == 0 {
		return 0
	}
	return line + o.lineBase
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
