package cli

import (
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library"
)

// catalogue is the loaded control registry and frameworks.
type catalogue struct {
	reg *control.Registry
	fws *framework.Set
}

func loadCatalogue() (*catalogue, error) {
	reg, err := library.NewRegistry()
	if err != nil {
		return nil, err
	}
	fws, err := framework.Load()
	if err != nil {
		return nil, err
	}
	return &catalogue{reg: reg, fws: fws}, nil
}

// splitList splits repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// selectControls applies --framework, --controls and --exclude-controls.
// It returns the controls to run and the frameworks to score. swap holds
// scan forms of External controls (same IDs) that this scan can evaluate;
// they are selected like any other control.
func (c *catalogue) selectControls(fwIDs, include, exclude []string, swap ...*control.Control) ([]*control.Control, []*framework.Framework, error) {
	forms := map[string]*control.Control{}
	for _, s := range swap {
		forms[s.ID] = s
	}
	var fws []*framework.Framework
	allowed := map[string]bool{}
	if len(fwIDs) == 0 {
		fws = c.fws.All()
	} else {
		for _, id := range fwIDs {
			f, ok := c.fws.Get(id)
			if !ok {
				return nil, nil, usageError("unknown framework %q (known: %s)", id, strings.Join(c.fws.IDs(), ", "))
			}
			fws = append(fws, f)
			for _, cid := range f.ControlIDs() {
				allowed[cid] = true
			}
		}
	}
	for _, id := range append(append([]string{}, include...), exclude...) {
		if _, ok := c.reg.Get(id); !ok {
			return nil, nil, usageError("unknown control %q (see 'rampart controls')", id)
		}
	}
	inc := map[string]bool{}
	for _, id := range include {
		inc[id] = true
	}
	exc := map[string]bool{}
	for _, id := range exclude {
		exc[id] = true
	}
	var out []*control.Control
	for _, ctl := range c.reg.All() {
		if ctl.External != "" {
			if ctl = forms[ctl.ID]; ctl == nil {
				continue // evaluated by an audit command, not by scans
			}
		}
		if len(fwIDs) > 0 && !allowed[ctl.ID] {
			continue
		}
		if len(inc) > 0 && !inc[ctl.ID] {
			continue
		}
		if exc[ctl.ID] {
			continue
		}
		out = append(out, ctl)
	}
	// Frameworks implemented only by audit commands' controls (kube-hunter:
	// rampart probe) have nothing to score in a scan.
	scanned := fws[:0:0]
	for _, f := range fws {
		scan := false
		for _, id := range f.ControlIDs() {
			if ctl, ok := c.reg.Get(id); ok && ctl.External == "" {
				scan = true
				break
			}
		}
		switch {
		case scan:
			scanned = append(scanned, f)
		case len(fwIDs) > 0:
			return nil, nil, usageError("framework %q is checked by an audit command, not by scans (see 'rampart controls')", f.ID)
		}
	}
	return out, scanned, nil
}
