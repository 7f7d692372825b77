package sensor

import (
	"context"
	"testing"

	"github.com/rampart-dev/rampart/internal/detect"
)

// BenchmarkHandle measures the user-space cost of one event: attribution,
// process table and the default rules.
func BenchmarkHandle(b *testing.B) {
	rules, err := detect.Defaults("sensor")
	if err != nil {
		b.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source)
	if err != nil {
		b.Fatal(err)
	}
	ctr := "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0c8e9f1a_2b3c_4d5e_8f70_8192a3b4c5d6.slice/cri-containerd-" + cid + ".scope"
	for _, tt := range []struct {
		name string
		ev   Event
	}{
		{"exec-host-v2", Event{Kind: KindExec, PID: 1 << 30, CgroupPath: "/system.slice/x.service", Path: "/usr/bin/true", Args: []string{"true"}}},
		{"exec-host-root-cgroup", Event{Kind: KindExec, PID: 1 << 30, CgroupPath: "/", Path: "/usr/bin/true", Args: []string{"true"}}},
		{"exec-container", Event{Kind: KindExec, PID: 1 << 30, CgroupPath: ctr, Path: "/usr/bin/true", Args: []string{"true"}}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := &Runner{Rules: rs, Attributor: &Attributor{}, Procs: &Procs{}}
			for b.Loop() {
				r.Handle(context.Background(), tt.ev)
			}
		})
	}
}
