package rbac

import (
	"context"
	"sync"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// AddFiles loads paths the way a scan does (files, directories, stdin,
// Helm charts and Kustomize overlays through opts.Renderers) and adds their
// RBAC objects to b. It returns the input problems met on the way.
func (b *Builder) AddFiles(ctx context.Context, paths []string, opts load.Options) []load.InputError {
	var mu sync.Mutex
	var errs []load.InputError
	onErr := func(e load.InputError) {
		mu.Lock()
		errs = append(errs, e)
		mu.Unlock()
	}
	load.Walk(ctx, paths, opts, func(u load.Unit) {
		data, ierr := load.ReadUnit(u, opts.Limits)
		if ierr != nil {
			onErr(*ierr)
			return
		}
		for _, e := range load.Decode(u, data, opts.Limits, func(o *k8s.Object) {
			mu.Lock()
			b.Add(o)
			mu.Unlock()
			o.Release()
		}) {
			onErr(e)
		}
	}, onErr)
	return errs
}
