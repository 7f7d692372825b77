package rbac

import (
	"context"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// AddFiles loads paths the way a scan does (files, directories, stdin,
// Helm charts and Kustomize overlays through opts.Renderers) and adds their
// RBAC objects to b. It returns the input problems met on the way.
func (b *Builder) AddFiles(ctx context.Context, paths []string, opts load.Options) []load.InputError {
	return load.Objects(ctx, paths, opts, func(o *k8s.Object) {
		b.Add(o)
		o.Release()
	})
}
