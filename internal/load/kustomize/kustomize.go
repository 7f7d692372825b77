// Package kustomize builds Kustomize roots in-process with the Kustomize API
// so that the objects an overlay produces can be scanned.
//
// Each built object becomes one load.Unit whose File is the file the object
// was originally declared in (found through Kustomize's origin tracking) and
// whose line is that declaration's first line. Remote bases and remote files
// are never fetched: a kustomization that refers to one fails to build.
package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// Renderer builds directories holding a kustomization file. It implements
// load.Renderer.
type Renderer struct{}

// New returns a Renderer.
func New() *Renderer { return &Renderer{} }

var _ load.Renderer = (*Renderer)(nil)

// Name returns "kustomize".
func (r *Renderer) Name() string { return "kustomize" }

// IsRoot reports whether names holds kustomization.yaml, kustomization.yml
// or Kustomization.
func (r *Renderer) IsRoot(names []string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if slices.Contains(names, n) {
			return true
		}
	}
	return false
}

// ErrRemote is wrapped by the error returned when a kustomization refers to
// a remote base or file.
var ErrRemote = errors.New("remote resources are not fetched")

// Render builds the kustomization in dir. It returns one unit per built
// object and every local file and directory the build read.
func (r *Renderer) Render(ctx context.Context, dir string) ([]load.Unit, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	realDir, err := filepath.EvalSymlinks(absDir)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRemote(realDir, map[string]bool{}); err != nil {
		return nil, []string{absDir}, err
	}
	fsys := &recordingFS{FileSystem: filesys.MakeFsOnDisk(), root: realDir, seen: map[string]bool{}}
	// Default options, as plain `kustomize build`: files load from within
	// each kustomization's root, plugins and Helm inflation are off.
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, realDir)
	consumed := fsys.consumed(absDir, realDir)
	if err != nil {
		return nil, consumed, err
	}
	origin := "kustomize:" + dir
	lines := &lineCache{files: map[string][]docPos{}}
	patches := fsys.patchDocs(realDir, dir)
	var units []load.Unit
	for _, res := range m.Resources() {
		o, err := res.GetOrigin()
		if err != nil {
			return nil, consumed, fmt.Errorf("reading origin of %s: %w", res.CurId(), err)
		}
		if err := res.SetOrigin(nil); err != nil {
			return nil, consumed, err
		}
		if anns := res.GetAnnotations(); len(anns) == 0 {
			if err := res.SetAnnotations(nil); err != nil {
				return nil, consumed, err
			}
		}
		data, err := res.AsYAML()
		if err != nil {
			return nil, consumed, err
		}
		file := filepath.Join(dir, konfigFileName(realDir))
		if o != nil {
			rel := o.Path
			if rel == "" {
				rel = o.ConfiguredIn
			}
			if rel != "" {
				file = filepath.Join(dir, rel)
			}
		}
		node := lines.find(file, res.GetKind(), res.GetName())
		applied := patchesFor(patches, res.GetKind(), declaredName(node, res.GetName()))
		units = append(units, load.Unit{
			File:   file,
			Origin: origin,
			Data:   data,
			NodeOf: func(obj *k8s.Object) *yaml.Node {
				obj.WithPatches(applied)
				return node
			},
		})
	}
	return units, consumed, nil
}

// konfigFileName returns the name of the kustomization file in dir.
func konfigFileName(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return n
		}
	}
	return konfig.DefaultKustomizationFileName()
}

// recordingFS is the on-disk file system, recording every path read and
// turning on origin annotations in the root kustomization.
type recordingFS struct {
	filesys.FileSystem
	root string // symlink-free absolute root directory
	mu   sync.Mutex
	seen map[string]bool
}

func (f *recordingFS) record(p string) {
	if p == "" {
		return
	}
	if !filepath.IsAbs(p) {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
	}
	f.mu.Lock()
	f.seen[filepath.Clean(p)] = true
	f.mu.Unlock()
}

// Open records path.
func (f *recordingFS) Open(path string) (filesys.File, error) {
	file, err := f.FileSystem.Open(path)
	if err == nil {
		f.record(path)
	}
	return file, err
}

// IsDir records directories.
func (f *recordingFS) IsDir(path string) bool {
	ok := f.FileSystem.IsDir(path)
	if ok {
		f.record(path)
	}
	return ok
}

// ReadDir records path.
func (f *recordingFS) ReadDir(path string) ([]string, error) {
	names, err := f.FileSystem.ReadDir(path)
	if err == nil {
		f.record(path)
	}
	return names, err
}

// CleanedAbs records the confirmed directory and file.
func (f *recordingFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	d, name, err := f.FileSystem.CleanedAbs(path)
	if err == nil {
		f.record(string(d))
		if name != "" {
			f.record(filepath.Join(string(d), name))
		}
	}
	return d, name, err
}

// Glob records matches.
func (f *recordingFS) Glob(pattern string) ([]string, error) {
	ms, err := f.FileSystem.Glob(pattern)
	for _, m := range ms {
		f.record(m)
	}
	return ms, err
}

// ReadFile records path and adds originAnnotations to the root
// kustomization's buildMetadata.
func (f *recordingFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return data, err
	}
	f.record(path)
	clean := filepath.Clean(path)
	if filepath.Dir(clean) == f.root && slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(clean)) {
		return withOriginAnnotations(data), nil
	}
	return data, nil
}

// Walk records path.
func (f *recordingFS) Walk(path string, fn filepath.WalkFunc) error {
	f.record(path)
	return f.FileSystem.Walk(path, fn)
}

// Create refuses: building never writes.
func (f *recordingFS) Create(path string) (filesys.File, error) {
	return nil, fmt.Errorf("%s: writing is not allowed while scanning", path)
}

// WriteFile refuses: building never writes.
func (f *recordingFS) WriteFile(path string, _ []byte) error {
	return fmt.Errorf("%s: writing is not allowed while scanning", path)
}

// consumed returns the recorded paths, each also translated from its
// symlink-free form back under absDir's spelling, minus absDir's ancestors.
func (f *recordingFS) consumed(absDir, realDir string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	// pairs of (real prefix, spelled prefix) from absDir up to /.
	type pair struct{ real, spelled string }
	var pairs []pair
	for a := absDir; ; a = filepath.Dir(a) {
		if r, err := filepath.EvalSymlinks(a); err == nil && r != a {
			pairs = append(pairs, pair{r, a})
		}
		if filepath.Dir(a) == a {
			break
		}
	}
	out := map[string]bool{absDir: true}
	for p := range f.seen {
		if isAncestor(p, realDir) {
			continue
		}
		out[p] = true
		for _, pr := range pairs {
			if p == pr.real || strings.HasPrefix(p, pr.real+string(filepath.Separator)) {
				out[pr.spelled+strings.TrimPrefix(p, pr.real)] = true
				break
			}
		}
	}
	list := make([]string, 0, len(out))
	for p := range out {
		list = append(list, p)
	}
	slices.Sort(list)
	return list
}

// isAncestor reports whether a is a strict ancestor directory of p.
func isAncestor(a, p string) bool {
	return a != p && strings.HasPrefix(p, strings.TrimSuffix(a, string(filepath.Separator))+string(filepath.Separator))
}

// withOriginAnnotations returns a kustomization with "originAnnotations" in
// its buildMetadata, or data unchanged if it cannot be parsed (Kustomize
// then reports the problem).
func withOriginAnnotations(data []byte) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return data
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return data
	}
	const key, val = "buildMetadata", "originAnnotations"
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != key {
			continue
		}
		seq := top.Content[i+1]
		if seq.Kind != yaml.SequenceNode {
			if seq.Tag == "!!null" {
				seq.Kind, seq.Tag, seq.Value = yaml.SequenceNode, "!!seq", ""
			} else {
				return data
			}
		}
		for _, it := range seq.Content {
			if it.Value == val {
				return data
			}
		}
		seq.Style = 0
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val})
		return marshal(&doc, data)
	}
	top.Content = append(top.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}}})
	return marshal(&doc, data)
}

func marshal(doc *yaml.Node, orig []byte) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(doc); err != nil {
		return orig
	}
	if err := enc.Close(); err != nil {
		return orig
	}
	return b.Bytes()
}

// docPos is one top-level document of a source file.
type docPos struct {
	kind, name string
	node       *yaml.Node
}

// lineCache finds objects' documents in their origin files.
type lineCache struct {
	files map[string][]docPos
	raw   map[string][]string
}

// find returns the YAML node in file of the document declaring the object
// of this kind whose (possibly prefixed, suffixed or hashed) name is name: a
// document of the same kind and name, else of the same kind whose name the
// built name contains, else the only document of that kind, else a
// "name:" line whose value the built name contains (generators declared in
// a kustomization, returned as a bare node holding that line), else nil.
func (c *lineCache) find(file, kind, name string) *yaml.Node {
	docs, ok := c.files[file]
	if !ok {
		docs = readDocs(file)
		c.files[file] = docs
	}
	var sameKind []docPos
	for _, d := range docs {
		if d.kind == kind {
			if d.name == name {
				return d.node
			}
			sameKind = append(sameKind, d)
		}
	}
	var bestNode *yaml.Node
	best, bestLen := 0, 0
	for _, d := range sameKind {
		if d.name != "" && strings.Contains(name, d.name) && len(d.name) > bestLen {
			bestNode, bestLen = d.node, len(d.name)
		}
	}
	if bestNode != nil {
		return bestNode
	}
	if len(sameKind) == 1 {
		return sameKind[0].node
	}
	if c.raw == nil {
		c.raw = map[string][]string{}
	}
	lines, ok := c.raw[file]
	if !ok {
		data, _ := os.ReadFile(file)
		lines = strings.Split(string(data), "\n")
		c.raw[file] = lines
	}
	for i, l := range lines {
		t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		v, ok := strings.CutPrefix(t, "name:")
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if ok && v != "" && strings.Contains(name, v) && len(v) > bestLen {
			best, bestLen = i+1, len(v)
		}
	}
	if best > 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Line: best}
	}
	return nil
}

// readDocs lists the kind, name and first line of each document in file.
func readDocs(file string) []docPos {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []docPos
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0]
		d := docPos{node: top}
		for i := 0; i+1 < len(top.Content); i += 2 {
			switch top.Content[i].Value {
			case "kind":
				d.kind = top.Content[i+1].Value
			case "metadata":
				md := top.Content[i+1]
				for j := 0; j+1 < len(md.Content); j += 2 {
					if md.Content[j].Value == "name" {
						d.name = md.Content[j+1].Value
					}
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// checkRemote fails when the kustomization in dir, or one in a local
// directory it refers to, refers to a remote base or file. It uses
// Kustomize's own test for git URLs.
func checkRemote(dir string, visited map[string]bool) error {
	if visited[dir] {
		return nil
	}
	visited[dir] = true
	var data []byte
	var kfile string
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			data, kfile = b, filepath.Join(dir, n)
			break
		}
	}
	if kfile == "" {
		return nil
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // Kustomize reports syntax errors itself
	}
	var refs, dirs []string
	for _, f := range []string{"resources", "bases", "components", "crds", "configurations", "generators", "transformers", "validators", "patchesStrategicMerge"} {
		for _, s := range strList(k[f]) {
			refs = append(refs, s)
			if f != "crds" && f != "configurations" && f != "patchesStrategicMerge" {
				dirs = append(dirs, s)
			}
		}
	}
	for _, f := range []string{"patches", "patchesJson6902", "replacements"} {
		for _, it := range anyList(k[f]) {
			if m, ok := it.(map[string]any); ok {
				if p, ok := m["path"].(string); ok {
					refs = append(refs, p)
				}
			}
		}
	}
	if m, ok := k["openapi"].(map[string]any); ok {
		if p, ok := m["path"].(string); ok {
			refs = append(refs, p)
		}
	}
	for _, f := range []string{"configMapGenerator", "secretGenerator"} {
		for _, it := range anyList(k[f]) {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			srcs := append(strList(m["files"]), strList(m["envs"])...)
			if e, ok := m["env"].(string); ok {
				srcs = append(srcs, e)
			}
			for _, s := range srcs {
				if _, after, ok := strings.Cut(s, "="); ok {
					s = after
				}
				refs = append(refs, s)
			}
		}
	}
	for _, s := range refs {
		if isRemote(s) {
			return fmt.Errorf("%s refers to %q: %w (vendor it into the repository to scan it)", kfile, s, ErrRemote)
		}
	}
	for _, s := range dirs {
		if strings.Contains(s, "\n") || filepath.IsAbs(s) {
			continue
		}
		p := filepath.Join(dir, s)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			if err := checkRemote(p, visited); err != nil {
				return err
			}
		}
	}
	return nil
}

// isRemote reports whether Kustomize would fetch s over the network: an
// http(s) URL or anything Kustomize parses as a git repository.
func isRemote(s string) bool {
	if strings.Contains(s, "\n") {
		return false // an inline patch
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return true
	}
	if filepath.IsAbs(s) {
		return false
	}
	return (&resource.Origin{}).Append(s).Repo != ""
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func strList(v any) []string {
	var out []string
	for _, it := range anyList(v) {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// patchDoc is one strategic-merge patch document a kustomization applies.
type patchDoc struct {
	k8s.Patch
	kind, name             string // the patch document's own kind and name
	targetKind, targetName string // the patch entry's target, if any
}

// patchDocs reads the strategic-merge patch files of every kustomization
// the build read (JSON 6902 patches and inline patches are not located).
// File names are spelled under dir, the directory the user gave.
func (f *recordingFS) patchDocs(realDir, dir string) []patchDoc {
	f.mu.Lock()
	var konfigs []string
	for p := range f.seen {
		if slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(p)) {
			konfigs = append(konfigs, p)
		}
	}
	f.mu.Unlock()
	slices.Sort(konfigs)
	var out []patchDoc
	for _, k := range konfigs {
		data, err := os.ReadFile(k)
		if err != nil {
			continue
		}
		var kz struct {
			Patches []struct {
				Path   string `yaml:"path"`
				Target struct {
					Kind string `yaml:"kind"`
					Name string `yaml:"name"`
				} `yaml:"target"`
			} `yaml:"patches"`
			PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
		}
		if yaml.Unmarshal(data, &kz) != nil {
			continue
		}
		type entry struct{ path, kind, name string }
		var entries []entry
		for _, p := range kz.Patches {
			if p.Path != "" {
				entries = append(entries, entry{p.Path, p.Target.Kind, p.Target.Name})
			}
		}
		for _, p := range kz.PatchesStrategicMerge {
			if !strings.Contains(p, "\n") && !strings.ContainsAny(p, "{:") {
				entries = append(entries, entry{path: p})
			}
		}
		for _, e := range entries {
			abs := filepath.Join(filepath.Dir(k), e.path)
			display := abs
			if rel, err := filepath.Rel(realDir, abs); err == nil {
				display = filepath.Join(dir, rel)
			}
			for _, d := range readDocs(abs) {
				out = append(out, patchDoc{Patch: k8s.Patch{File: display, Node: d.node}, kind: d.kind, name: d.name, targetKind: e.kind, targetName: e.name})
			}
		}
	}
	return out
}

// patchesFor returns the patch documents that apply to the object of kind
// declared with name, in the order Kustomize applies them (bases first).
func patchesFor(docs []patchDoc, kind, name string) []k8s.Patch {
	var out []k8s.Patch
	for _, d := range docs {
		kindOK := d.kind == kind || (d.kind == "" && d.targetKind == kind)
		nameOK := d.name == name || d.targetName == name || (d.name == "" && d.targetName == "")
		if kindOK && nameOK {
			out = append(out, d.Patch)
		}
	}
	return out
}

// declaredName is the metadata.name of the document that declared the
// object, before prefixes and suffixes; fallback when it is unknown.
func declaredName(n *yaml.Node, fallback string) string {
	if n == nil || n.Kind != yaml.MappingNode {
		return fallback
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "metadata" {
			continue
		}
		md := n.Content[i+1]
		for j := 0; j+1 < len(md.Content); j += 2 {
			if md.Content[j].Value == "name" {
				return md.Content[j+1].Value
			}
		}
	}
	return fallback
}
