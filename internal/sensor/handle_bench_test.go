package sensor

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/detect"
)

// processCPU is this process's user+system CPU time (all threads: the
// garbage collector's share of an event's cost included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandle measures the user-space cost of one event: attribution,
// process table and the default rules. The same event again and again hits
// the no-match memo; the -no-memo cases evaluate every rule each time. Besides wall time per event it
// reports the process's CPU time per event (cpu-ns/op), which other
// processes competing for the CPUs inflate less.
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
	exec := func(cgroupID uint64, cgroup string) Event {
		return Event{Kind: KindExec, PID: 1 << 30, PPID: 1, Comm: "true", CgroupID: cgroupID, CgroupPath: cgroup, Path: "/usr/bin/true", Args: []string{"true"}}
	}
	open := func(cgroupID uint64, cgroup string) Event {
		return Event{Kind: KindOpen, PID: 1 << 30, PPID: 1, Comm: "true", CgroupID: cgroupID, CgroupPath: cgroup, Path: "/etc/shadow", Arg: -100}
	}
	for _, tt := range []struct {
		name   string
		ev     Event
		noMemo bool // every event evaluated, as when commands differ
	}{
		{"exec-host-v2", exec(7, "/system.slice/x.service"), false},
		{"exec-host-root-cgroup", exec(1, "/"), false},
		{"exec-container", exec(9, ctr), false},
		{"exec-host-v2-no-memo", exec(7, "/system.slice/x.service"), true},
		{"exec-host-root-cgroup-no-memo", exec(1, "/"), true},
		{"exec-container-no-memo", exec(9, ctr), true},
		// The same process opening a watched file again and again (the
		// flood of BenchmarkSensorOverhead/open-watched-path): every
		// open matches sensor-sensitive-file-read.
		{"open-watched-host-root-cgroup", open(1, "/"), false},
		{"open-watched-container", open(9, ctr), false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := &Runner{Rules: rs, Attributor: &Attributor{}, Procs: &Procs{}}
			r.memo.off[tt.ev.Kind] = tt.noMemo
			// The process's exec was seen, as for a process started
			// after the sensor.
			r.Handle(context.Background(), exec(tt.ev.CgroupID, tt.ev.CgroupPath))
			cpu0 := processCPU()
			for b.Loop() {
				r.Handle(context.Background(), tt.ev)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
