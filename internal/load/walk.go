package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Renderer builds directories that are Helm charts or Kustomize roots.
type Renderer interface {
	// Name returns a short name such as "helm" or "kustomize".
	Name() string
	// IsRoot reports whether a directory with these entry names is a root
	// this renderer builds.
	IsRoot(names []string) bool
	// Render builds dir. It returns the units to decode and every local file
	// or directory it read, as cleaned absolute paths, so that those are
	// neither scanned as plain files nor rendered as roots of their own.
	Render(ctx context.Context, dir string) (units []Unit, consumed []string, err error)
}

// Options configure Walk.
type Options struct {
	// Limits bound each input.
	Limits Limits
	// Renderers build chart and overlay directories, in priority order.
	Renderers []Renderer
	// Stdin is read for the path "-"; os.Stdin when nil.
	Stdin io.Reader
}

// manifestExt reports whether a file found in a directory walk is scanned.
func manifestExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

type root struct {
	dir      string
	renderer Renderer
}

type walker struct {
	opts    Options
	onErr   func(InputError)
	files   []string
	roots   []root
	visited map[string]bool
}

// Walk expands paths (files, directories walked recursively, "-" for stdin)
// into Units and calls emit for each, in a stable order. Problems are
// reported through onErr and never stop the walk.
func Walk(ctx context.Context, paths []string, opts Options, emit func(Unit), onErr func(InputError)) {
	w := &walker{opts: opts, onErr: onErr, visited: map[string]bool{}}
	for _, p := range paths {
		if p == "-" {
			w.stdin(emit)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			onErr(InputError{File: p, Message: describeFSError(err)})
			continue
		}
		if fi.IsDir() {
			w.dir(p)
			continue
		}
		if !fi.Mode().IsRegular() {
			onErr(InputError{File: p, Message: "not a regular file"})
			continue
		}
		w.files = append(w.files, p)
	}

	consumed := map[string]bool{}
	type rendered struct {
		root  root
		units []Unit
	}
	var outs []rendered
	for _, r := range w.roots {
		if ctx.Err() != nil {
			return
		}
		units, used, err := r.renderer.Render(ctx, r.dir)
		if err != nil {
			onErr(InputError{File: r.dir, Message: fmt.Sprintf("%s: %s", r.renderer.Name(), oneLine(err.Error()))})
			continue
		}
		abs := absPath(r.dir)
		for _, u := range used {
			if u != abs {
				consumed[u] = true
			}
		}
		outs = append(outs, rendered{root: r, units: units})
	}
	for _, o := range outs {
		if consumed[absPath(o.root.dir)] {
			continue // a base reached from an overlay in this scan
		}
		for _, u := range o.units {
			emit(u)
		}
	}
	for _, f := range w.files {
		if ctx.Err() != nil {
			return
		}
		if consumed[absPath(f)] {
			continue
		}
		emit(Unit{File: f, Path: f})
	}
}

func (w *walker) stdin(emit func(Unit)) {
	r := w.opts.Stdin
	if r == nil {
		r = os.Stdin
	}
	data, err := io.ReadAll(io.LimitReader(r, w.opts.Limits.MaxFileSize+1))
	if err != nil {
		w.onErr(InputError{File: "-", Message: describeFSError(err)})
		return
	}
	if int64(len(data)) > w.opts.Limits.MaxFileSize {
		// Only the limit plus one byte was read: the real size is unknown.
		w.onErr(InputError{File: "-", Message: "input is larger than the " + humanBytes(w.opts.Limits.MaxFileSize) + " limit"})
		return
	}
	emit(Unit{File: "-", Data: data})
}

// dir walks one directory tree, following symlinks to directories once.
func (w *walker) dir(top string) {
	real, err := filepath.EvalSymlinks(top)
	if err != nil {
		w.onErr(InputError{File: top, Message: describeFSError(err)})
		return
	}
	if w.visited[real] {
		return
	}
	w.visited[real] = true
	entries, err := os.ReadDir(top)
	if err != nil {
		w.onErr(InputError{File: top, Message: describeFSError(err)})
		return
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	for _, r := range w.opts.Renderers {
		if r.IsRoot(names) {
			w.roots = append(w.roots, root{dir: top, renderer: r})
			return
		}
	}
	for _, e := range entries { // os.ReadDir sorts by name
		name := e.Name()
		p := filepath.Join(top, name)
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				w.onErr(InputError{File: p, Message: describeFSError(err)})
				continue
			}
			if fi.IsDir() {
				if r, err := filepath.EvalSymlinks(p); err == nil && w.visited[r] {
					w.onErr(InputError{File: p, Message: "symlink loop: directory already visited as " + r})
					continue
				}
				w.dir(p)
				continue
			}
			mode = fi.Mode().Type()
		}
		switch {
		case e.IsDir() && mode&fs.ModeSymlink == 0:
			if strings.HasPrefix(name, ".") || name == "node_modules" {
				continue
			}
			w.dir(p)
		case mode.IsRegular() && manifestExt(name):
			w.files = append(w.files, p)
		}
	}
}

// describeFSError shortens an fs error to its cause.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// ReadUnit returns the content of u, reading its file when needed and
// enforcing the size limit.
func ReadUnit(u Unit, lim Limits) ([]byte, *InputError) {
	if u.Data != nil {
		return u.Data, nil
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, &InputError{File: u.File, Message: describeFSError(err)}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > lim.MaxFileSize {
		return nil, &InputError{File: u.File, Message: fmt.Sprintf("file is %s, larger than the %s limit", humanBytes(fi.Size()), humanBytes(lim.MaxFileSize))}
	}
	data, err := io.ReadAll(io.LimitReader(f, lim.MaxFileSize+1))
	if err != nil {
		return nil, &InputError{File: u.File, Message: describeFSError(err)}
	}
	return data, nil
}

// Objects walks paths as Walk does, reads and decodes every unit in turn
// and calls fn with each object. It returns the input problems met; the
// rest of the input is still read. Scans use the engine's parallel
// pipeline instead; this serves analyses that only collect objects.
func Objects(ctx context.Context, paths []string, opts Options, fn func(*k8s.Object)) []InputError {
	var errs []InputError
	onErr := func(e InputError) { errs = append(errs, e) }
	Walk(ctx, paths, opts, func(u Unit) {
		data, ierr := ReadUnit(u, opts.Limits)
		if ierr != nil {
			onErr(*ierr)
			return
		}
		errs = append(errs, Decode(u, data, opts.Limits, fn)...)
	}, onErr)
	return errs
}
