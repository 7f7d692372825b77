package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-dev/rampart/internal/oneline"
	"github.com/rampart-dev/rampart/internal/sbom"
)

// Limits bound what one image may cost (zero fields take the defaults) and
// say how layers are named.
type Limits struct {
	// DiffIDs names layers by their uncompressed digest from the image
	// config instead of the manifest's layer digest: for docker save
	// tarballs, whose manifest digests would mean hashing every layer.
	DiffIDs bool
	// MaxFileSize is the largest file handed to an Analyzer; larger wanted
	// files are skipped by their header size, without being read.
	MaxFileSize int64
	// MaxEntries is the largest number of tar entries over all layers.
	MaxEntries int
	// MaxBytes is the largest number of uncompressed bytes read over all
	// layers (a tar bomb stops here).
	MaxBytes int64
}

// Default limits.
const (
	DefaultMaxFileSize = 256 << 20
	DefaultMaxEntries  = 2_000_000
	DefaultMaxBytes    = 64 << 30
)

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// File is a regular file of a layer offered to an Analyzer. R reads its
// content (at most Size bytes) and is valid only during Analyze.
type File struct {
	// Path is the file's path in the image, cleaned, without a leading
	// slash, with symbolic links in its directories resolved.
	Path string
	// Mode is the file's mode from its tar header.
	Mode fs.FileMode
	// Size is the file's size from its tar header.
	Size int64
	// Layer is the digest of the layer holding the file.
	Layer string
	// R reads the content.
	R io.Reader
}

// Found is what an Analyzer found in one file.
type Found struct {
	// Packages are the packages the file declares.
	Packages []sbom.Package
	// Distro is set by os-release files.
	Distro *sbom.Distro
}

// Analyzer reads the files it wants from the layers.
type Analyzer interface {
	// Match reports whether the analyzer wants the regular file at name
	// (cleaned, no leading slash) with the given mode.
	Match(name string, mode fs.FileMode) bool
	// Analyze reads f. A nil Found with a nil error means nothing there.
	Analyze(ctx context.Context, f *File) (*Found, error)
}

// Entry is a file that an Analyzer read and that is present in the
// squashed filesystem.
type Entry struct {
	// Path is the file's path in the image.
	Path string
	// Layer is the digest of the layer that wrote the file last.
	Layer string
	// Found is what the Analyzer returned.
	Found *Found
}

// FS is the squashed filesystem as far as analysis needs it: the files the
// Analyzer read, symbolic links and directories.
type FS struct {
	root     *node
	warnings []string
}

type nodeKind uint8

const (
	kindDir nodeKind = iota
	kindFile
	kindLink
)

type node struct {
	kind  nodeKind
	layer int // last layer that wrote this node or something under it
	link  string
	kids  map[string]*node
	entry *Entry
}

// Warnings are entries skipped (path traversal, too large, unreadable by
// an Analyzer), one line each.
func (f *FS) Warnings() []string { return f.warnings }

// Entries returns the surviving analysed files, sorted by path.
func (f *FS) Entries() []Entry {
	var out []Entry
	var walk func(n *node)
	walk = func(n *node) {
		if n.entry != nil {
			out = append(out, *n.entry)
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(f.root)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Lookup returns the analysed file at name, following symbolic links
// inside the image only.
func (f *FS) Lookup(name string) (Entry, bool) {
	p, ok := f.resolve(splitPath(name), true)
	if !ok {
		return Entry{}, false
	}
	n := f.get(p)
	if n == nil || n.entry == nil {
		return Entry{}, false
	}
	return *n.entry, true
}

const maxLinkHops = 40

// resolve returns the path of name's target inside the image: ".." stops
// at the root and symbolic links are followed through the model only, so
// nothing can point outside the image. followLast follows a link in the
// last component too.
func (f *FS) resolve(parts []string, followLast bool) ([]string, bool) {
	hops := 0
	return f.resolveFrom(nil, parts, followLast, &hops)
}

func (f *FS) resolveFrom(base, parts []string, followLast bool, hops *int) ([]string, bool) {
	cur := append([]string(nil), base...)
	for i, c := range parts {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := append(cur, c)
		n := f.get(next)
		if n != nil && n.kind == kindLink && (followLast || i < len(parts)-1) {
			*hops++
			if *hops > maxLinkHops {
				return nil, false
			}
			var start []string
			if !strings.HasPrefix(n.link, "/") {
				start = cur
			}
			r, ok := f.resolveFrom(start, splitPath(n.link), true, hops)
			if !ok {
				return nil, false
			}
			cur = r
			continue
		}
		cur = next
	}
	return cur, true
}

func (f *FS) get(parts []string) *node {
	n := f.root
	for _, c := range parts {
		if n.kids == nil {
			return nil
		}
		n = n.kids[c]
		if n == nil {
			return nil
		}
	}
	return n
}

// mkdirs returns the directory at parts, creating missing directories and
// replacing files or links in the way, and marks the path as written by
// layer.
func (f *FS) mkdirs(parts []string, layer int) *node {
	n := f.root
	n.layer = layer
	for _, c := range parts {
		if n.kids == nil {
			n.kids = map[string]*node{}
		}
		k := n.kids[c]
		if k == nil || k.kind != kindDir {
			k = &node{kind: kindDir}
			n.kids[c] = k
		}
		k.layer = layer
		n = k
	}
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	return n
}

// prune removes everything under n written by layers below layer.
func prune(n *node, layer int) {
	for name, k := range n.kids {
		if k.layer < layer {
			delete(n.kids, name)
			continue
		}
		if k.kind == kindDir {
			prune(k, layer)
		}
	}
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// cleanName turns a tar entry name into path components relative to the
// image root. Absolute names are taken from the root; a ".." component
// makes the entry unusable (path traversal).
func cleanName(name string) ([]string, bool) {
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, false
		default:
			out = append(out, c)
		}
	}
	return out, true
}

// Squash reads the layers of img in order, bottom first, streaming each
// uncompressed tar once and writing nothing to disk, and returns the
// squashed filesystem with what a reads from the files it matches.
// Whiteouts and opaque directories hide lower layers; symbolic links are
// resolved inside the image model only. A layer that cannot be read
// (corrupt compression, broken tar) is an error naming the layer.
func Squash(ctx context.Context, img v1.Image, a Analyzer, lim Limits) (*FS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	ids, err := layerIDs(img, layers, lim.DiffIDs)
	if err != nil {
		return nil, err
	}
	w := &walker{fs: &FS{root: &node{kind: kindDir}}, a: a, lim: lim.withDefaults()}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := w.layer(ctx, i+1, ids[i], l); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %s", i+1, ids[i], oneline.Err(err))
		}
	}
	return w.fs, nil
}

// layerIDs names each layer by its digest; when computing the compressed
// digest would mean hashing the layer (docker save tarballs), by its
// uncompressed DiffID from the config instead.
func layerIDs(img v1.Image, layers []v1.Layer, diffIDs bool) ([]string, error) {
	ids := make([]string, len(layers))
	if !diffIDs {
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("image manifest: %w", err)
		}
		if len(m.Layers) == len(layers) {
			for i, d := range m.Layers {
				ids[i] = d.Digest.String()
			}
			return ids, nil
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("image config lists %d layers, the image has %d", len(cf.RootFS.DiffIDs), len(layers))
	}
	for i, d := range cf.RootFS.DiffIDs {
		ids[i] = d.String()
	}
	return ids, nil
}

type walker struct {
	fs      *FS
	a       Analyzer
	lim     Limits
	entries int
	bytes   int64
}

type countingReader struct {
	r io.Reader
	w *walker
}

var errTooManyBytes = errors.New("uncompressed size limit reached")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.w.bytes += int64(n)
	if c.w.bytes > c.w.lim.MaxBytes {
		return n, fmt.Errorf("%w (%d bytes over all layers)", errTooManyBytes, c.w.lim.MaxBytes)
	}
	return n, err
}

func (w *walker) warn(format string, args ...any) {
	if len(w.fs.warnings) < 1000 {
		w.fs.warnings = append(w.fs.warnings, fmt.Sprintf(format, args...))
	}
}

func (w *walker) layer(ctx context.Context, idx int, id string, l v1.Layer) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	tr := tar.NewReader(&countingReader{r: rc, w: w})
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		w.entries++
		if w.entries > w.lim.MaxEntries {
			return fmt.Errorf("more than %d tar entries over all layers", w.lim.MaxEntries)
		}
		if err := w.entry(ctx, idx, id, hdr, tr); err != nil {
			return err
		}
	}
}

func (w *walker) entry(ctx context.Context, idx int, id string, hdr *tar.Header, tr *tar.Reader) error {
	parts, ok := cleanName(hdr.Name)
	if !ok {
		w.warn("%s: %q skipped: path traversal", id, hdr.Name)
		return nil
	}
	if len(parts) == 0 {
		return nil
	}
	dirParts, base := parts[:len(parts)-1], parts[len(parts)-1]
	dir, ok := w.fs.resolve(dirParts, true)
	if !ok {
		w.warn("%s: %q skipped: too many symbolic links", id, hdr.Name)
		return nil
	}
	if base == ".wh..wh..opq" {
		prune(w.fs.mkdirs(dir, idx), idx)
		return nil
	}
	if name, ok := strings.CutPrefix(base, ".wh."); ok {
		parent := w.fs.get(dir)
		if parent != nil && parent.kids != nil {
			if k := parent.kids[name]; k != nil {
				if k.layer < idx {
					delete(parent.kids, name)
				} else if k.kind == kindDir {
					prune(k, idx)
				}
			}
		}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		w.fs.mkdirs(append(dir, base), idx)
	case tar.TypeSymlink:
		parent := w.fs.mkdirs(dir, idx)
		parent.kids[base] = &node{kind: kindLink, layer: idx, link: hdr.Linkname}
	case tar.TypeLink:
		parent := w.fs.mkdirs(dir, idx)
		target, ok := cleanName(hdr.Linkname)
		var src *node
		if ok {
			src = w.fs.get(target)
		}
		if src != nil && src.kind == kindFile && src.entry != nil {
			e := *src.entry
			e.Path = path.Join(path.Join(dir...), base)
			parent.kids[base] = &node{kind: kindFile, layer: idx, entry: &e}
		} else {
			delete(parent.kids, base)
		}
	case tar.TypeReg, tar.TypeGNUSparse:
		return w.file(ctx, idx, id, dir, base, hdr, tr)
	default:
		// Devices, fifos: they replace whatever was there.
		if parent := w.fs.get(dir); parent != nil && parent.kids != nil {
			delete(parent.kids, base)
		}
	}
	return nil
}

func (w *walker) file(ctx context.Context, idx int, id string, dir []string, base string, hdr *tar.Header, tr *tar.Reader) error {
	name := path.Join(path.Join(dir...), base)
	mode := hdr.FileInfo().Mode()
	var prev *node
	if parent := w.fs.get(dir); parent != nil && parent.kids != nil {
		prev = parent.kids[base]
		delete(parent.kids, base)
	}
	if !w.a.Match(name, mode) {
		return nil
	}
	if hdr.Size > w.lim.MaxFileSize {
		w.warn("%s: %s skipped: %d bytes, over the %d-byte limit", id, name, hdr.Size, w.lim.MaxFileSize)
		return nil
	}
	f := &File{Path: name, Mode: mode, Size: hdr.Size, Layer: id, R: io.LimitReader(tr, hdr.Size)}
	found, err := w.a.Analyze(ctx, f)
	if err != nil {
		if errors.Is(err, errTooManyBytes) {
			return err
		}
		w.warn("%s: %s skipped: %s", id, name, oneline.Err(err))
		return nil
	}
	if found == nil {
		return nil
	}
	for i := range found.Packages {
		if found.Packages[i].Path == "" {
			found.Packages[i].Path = name
		}
		found.Packages[i].Layer = id
	}
	if prev != nil && prev.entry != nil && prev.entry.Found != nil {
		inheritLayers(found.Packages, prev.entry.Found.Packages)
	}
	parent := w.fs.mkdirs(dir, idx)
	parent.kids[base] = &node{kind: kindFile, layer: idx, entry: &Entry{Path: name, Layer: id, Found: found}}
	return nil
}

// inheritLayers keeps, for a package that a rewritten file still lists at
// the same version, the layer that introduced it (a dpkg status file is
// rewritten by every layer that installs anything).
func inheritLayers(now, before []sbom.Package) {
	if len(before) == 0 {
		return
	}
	type key struct{ eco, name, version string }
	old := make(map[key]string, len(before))
	for _, p := range before {
		old[key{string(p.Ecosystem), p.Name, p.Version}] = p.Layer
	}
	for i, p := range now {
		if l, ok := old[key{string(p.Ecosystem), p.Name, p.Version}]; ok {
			now[i].Layer = l
		}
	}
}
