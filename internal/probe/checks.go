package probe

import (
	"fmt"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control/framework"
	probelib "github.com/rampart-dev/rampart/internal/control/library/probe"
)

// FrameworkID is the framework of probe reports: kube-hunter's KHV IDs.
const FrameworkID = "kube-hunter"

// Framework returns the kube-hunter framework as audit.Build wants it.
func Framework() (audit.Framework, error) {
	fw, ok := framework.MustLoad().Get(FrameworkID)
	if !ok {
		return audit.Framework{}, fmt.Errorf("framework %s: no spec", FrameworkID)
	}
	return audit.Framework{ID: fw.ID, Name: fw.Name, Version: fw.Version}, nil
}

// Checks returns the probe checks in catalogue order: the probe control
// family's metadata, each with the first kube-hunter item that lists it.
func Checks() ([]*audit.Check, error) {
	ctls, err := probelib.Controls()
	if err != nil {
		return nil, err
	}
	fws, err := framework.Load()
	if err != nil {
		return nil, err
	}
	fw, _ := fws.Get(FrameworkID)
	out := make([]*audit.Check, 0, len(ctls))
	for _, c := range ctls {
		chk := &audit.Check{ID: c.ID, Title: c.Title, Severity: c.Severity, Remediation: c.Remediation}
		if fw != nil {
		items:
			for _, it := range fw.Items {
				for _, id := range it.Controls {
					if id == c.ID {
						chk.Item, chk.ItemName = it.ID, it.Name
						break items
					}
				}
			}
		}
		out = append(out, chk)
	}
	return out, nil
}
