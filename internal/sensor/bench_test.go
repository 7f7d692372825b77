package sensor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/detect"
)

// Overhead benchmarks (make bench-sensor): each workload runs alternately
// without and with the sensor (programs attached, events read and evaluated
// with the default rules) for benchReps pairs; the reported numbers are
// medians. CPU is the workload's processes' CPU (user+system, where the
// in-kernel programs run) plus this process's (the driver and the sensor's
// user space).

var benchReps = envInt("RAMPART_BENCH_REPS", 5)

type overheadRun struct {
	wall   time.Duration
	cpu    time.Duration
	events uint64
	lost   uint64
}

// sensorOn loads the sensor and evaluates its events until stop is called;
// stop returns the events read and lost.
func sensorOn(b *testing.B) (stop func() (events, lost uint64)) {
	b.Helper()
	s, err := Open()
	if err != nil {
		b.Fatal(err)
	}
	rules, err := detect.Defaults("sensor")
	if err != nil {
		b.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source)
	if err != nil {
		b.Fatal(err)
	}
	r := &Runner{Rules: rs, Attributor: &Attributor{}, Procs: &Procs{}}
	var n atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			e, err := s.Read()
			if err != nil {
				return
			}
			n.Add(1)
			r.Handle(context.Background(), e)
		}
	}()
	return func() (uint64, uint64) {
		lost, _ := s.Lost()
		_ = s.Close()
		<-done
		return n.Load(), lost
	}
}

func cpuTimes() (self, children time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return self, children
}

// measure runs work with or without the sensor.
func measure(b *testing.B, withSensor bool, work func()) overheadRun {
	b.Helper()
	var stop func() (uint64, uint64)
	if withSensor {
		stop = sensorOn(b)
	}
	s0, c0 := cpuTimes()
	start := time.Now()
	work()
	wall := time.Since(start)
	var run overheadRun
	if stop != nil {
		run.events, run.lost = stop()
	}
	s1, c1 := cpuTimes()
	run.wall, run.cpu = wall, (s1-s0)+(c1-c0)
	return run
}

// execs forks and execs /bin/true n times from workers goroutines, at rate
// per second (0: as fast as possible).
func execs(b *testing.B, n, rate, workers int) {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
						time.Sleep(d)
					}
				}
				pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
				if err != nil {
					b.Error(err)
					return
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// opens runs a helper process that opens and closes path n times.
func opens(b *testing.B, self, path string, n int) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=open="+path+","+strconv.Itoa(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("open helper: %v: %s", err, out)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// compare runs benchReps interleaved pairs and reports medians.
func compare(b *testing.B, ops int, work func()) {
	var offCPU, onCPU, offWall, onWall, evRate, lost []float64
	for range benchReps {
		off := measure(b, false, work)
		on := measure(b, true, work)
		offCPU = append(offCPU, float64(off.cpu)/float64(ops))
		onCPU = append(onCPU, float64(on.cpu)/float64(ops))
		offWall = append(offWall, off.wall.Seconds())
		onWall = append(onWall, on.wall.Seconds())
		evRate = append(evRate, float64(on.events)/on.wall.Seconds())
		lost = append(lost, float64(on.lost))
	}
	mOff, mOn := median(offCPU), median(onCPU)
	b.ReportMetric(mOff, "cpu-ns/op-off")
	b.ReportMetric(mOn, "cpu-ns/op-on")
	b.ReportMetric((mOn/mOff-1)*100, "cpu-slowdown-%")
	b.ReportMetric(float64(ops)/median(offWall), "ops/s-off")
	b.ReportMetric(float64(ops)/median(onWall), "ops/s-on")
	b.ReportMetric((median(onWall)/median(offWall)-1)*100, "wall-slowdown-%")
	b.ReportMetric(median(evRate), "events/s")
	b.ReportMetric(slices.Max(lost), "lost-max")
	b.Logf("per pair: cpu ns/op off %v on %v; wall s off %v on %v; lost %v", fmtAll(offCPU), fmtAll(onCPU), fmtAll(offWall), fmtAll(onWall), lost)
}

func fmtAll(v []float64) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.3g", x)
	}
	return s
}

func BenchmarkSensorOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading eBPF programs needs root")
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const n = 5000
	for _, rate := range []int{5000, 1000} {
		b.Run(fmt.Sprintf("exec-%d/s", rate), func(b *testing.B) {
			for b.Loop() {
				compare(b, n, func() { execs(b, n, rate, 8) })
			}
		})
	}
	b.Run("exec-saturated", func(b *testing.B) {
		for b.Loop() {
			compare(b, n, func() { execs(b, n, 0, 2) })
		}
	})
	b.Run("open-unwatched-path", func(b *testing.B) {
		for b.Loop() {
			compare(b, 200000, func() { opens(b, self, "/etc/hostname", 200000) })
		}
	})
	b.Run("open-watched-path", func(b *testing.B) {
		for b.Loop() {
			compare(b, 200000, func() { opens(b, self, "/etc/shadow", 200000) })
		}
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
