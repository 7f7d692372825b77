// Package library aggregates Rampart's built-in controls. Each family lives
// in its own sub-package with an embedded metadata.yaml joined by ID to the
// Go check logic.
package library

import (
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library/cluster"
	"github.com/rampart-dev/rampart/internal/control/library/controlplane"
	"github.com/rampart-dev/rampart/internal/control/library/exposure"
	"github.com/rampart-dev/rampart/internal/control/library/network"
	"github.com/rampart-dev/rampart/internal/control/library/probe"
	"github.com/rampart-dev/rampart/internal/control/library/pss"
	"github.com/rampart-dev/rampart/internal/control/library/rbac"
	"github.com/rampart-dev/rampart/internal/control/library/rbacpath"
	"github.com/rampart-dev/rampart/internal/control/library/signature"
	"github.com/rampart-dev/rampart/internal/control/library/supplychain"
	"github.com/rampart-dev/rampart/internal/control/library/workload"
)

// families lists the built-in control families.
var families = []func() ([]*control.Control, error){
	pss.Controls,
	workload.Controls,
	controlplane.Controls,
	exposure.Controls,
	rbac.Controls,
	rbacpath.Controls,
	network.Controls,
	cluster.Controls,
	probe.Controls,
	signature.Controls,
	supplychain.Controls,
}

// RegisterAll registers every built-in control into reg.
func RegisterAll(reg *control.Registry) error {
	for _, f := range families {
		cs, err := f()
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewRegistry returns a registry holding every built-in control.
func NewRegistry() (*control.Registry, error) {
	reg := control.NewRegistry()
	if err := RegisterAll(reg); err != nil {
		return nil, err
	}
	return reg, nil
}
