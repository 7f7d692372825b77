package sensor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/rampart-dev/rampart/internal/detect"
)

// Overhead benchmarks (make bench-sensor): each workload runs alternately
// without and with the sensor (programs attached, events read and evaluated
// with the default rules) for benchReps pairs; the reported numbers are
// medians.
//
// Two slowdowns are reported. cpu-slowdown-% compares the CPU time per
// operation of everything involved: the workload's processes (user+system,
// where the in-kernel programs run) plus this process (the driver and the
// sensor's user space, garbage collection included). wall-slowdown-%
// compares the workload's wall time: zero at a fixed rate the machine
// sustains with and without the sensor, meaningful only when saturated.
// Enabling the statistics costs the programs a little themselves (two
// clock reads per run).
// The sensor's own CPU per event (sensor-cpu-ns/event) is the reader
// thread's CPU (the goroutine is locked to its thread: ring buffer reads,
// attribution, rules) plus the run time of the eBPF programs as the
// kernel counts it (BPF_STATS_RUN_TIME), over the events read; it leaves out
// the garbage collector's share and the cost of the tracepoints themselves.

var benchReps = envInt("RAMPART_BENCH_REPS", 5)

type overheadRun struct {
	wall      time.Duration
	cpu       time.Duration
	events    uint64
	lost      uint64
	sensorCPU time.Duration // reader thread + eBPF programs
	bpfCPU    time.Duration
}

// threadCPU is the calling thread's user+system CPU time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sensorResult is what sensorOn's stop returns.
type sensorResult struct {
	events, lost uint64
	readerCPU    time.Duration
	bpfCPU       time.Duration
}

// sensorOn loads the sensor and evaluates its events until stop is called.
func sensorOn(b *testing.B) (stop func() sensorResult) {
	b.Helper()
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling eBPF run time statistics: %v", err)
	}
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
	cpu := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread() // the thread's CPU is the reader's
		defer runtime.UnlockOSThread()
		start := threadCPU()
		defer func() { cpu <- threadCPU() - start }()
		for {
			e, err := s.Read()
			if err != nil {
				return
			}
			n.Add(1)
			r.Handle(context.Background(), e)
		}
	}()
	return func() sensorResult {
		var res sensorResult
		res.lost, _ = s.Lost()
		res.bpfCPU, _, _ = s.KernelTime()
		_ = s.Close()
		_ = stats.Close()
		res.readerCPU = <-cpu
		res.events = n.Load()
		return res
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
	var stop func() sensorResult
	if withSensor {
		stop = sensorOn(b)
	}
	s0, c0 := cpuTimes()
	start := time.Now()
	work()
	wall := time.Since(start)
	var run overheadRun
	if stop != nil {
		res := stop()
		run.events, run.lost, run.bpfCPU = res.events, res.lost, res.bpfCPU
		run.sensorCPU = res.readerCPU + res.bpfCPU
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

// overhead is the medians of compare.
type overhead struct {
	rateOff, rateOn    float64 // operations per second
	cpuSlowdown        float64 // %
	wallSlowdown       float64 // %
	sensorPerEvent     float64 // ns of sensor CPU per event
	sensorPerOp        float64 // ns of sensor CPU per operation
	eventsPerSec, lost float64
	cpuOpOff, cpuOpOn  float64 // ns per operation
	bpfPerEvent        float64
	eventsPerOperation float64
}

// compare runs benchReps interleaved pairs and reports medians.
func compare(b *testing.B, ops int, work func()) overhead {
	var offCPU, onCPU, offWall, onWall, evRate, lost, sensorEv, bpfEv, evOp, sensorOp []float64
	for range benchReps {
		off := measure(b, false, work)
		on := measure(b, true, work)
		offCPU = append(offCPU, float64(off.cpu)/float64(ops))
		onCPU = append(onCPU, float64(on.cpu)/float64(ops))
		offWall = append(offWall, off.wall.Seconds())
		onWall = append(onWall, on.wall.Seconds())
		evRate = append(evRate, float64(on.events)/on.wall.Seconds())
		lost = append(lost, float64(on.lost))
		evOp = append(evOp, float64(on.events)/float64(ops))
		sensorOp = append(sensorOp, float64(on.sensorCPU)/float64(ops))
		if on.events > 0 {
			sensorEv = append(sensorEv, float64(on.sensorCPU)/float64(on.events))
			bpfEv = append(bpfEv, float64(on.bpfCPU)/float64(on.events))
		}
	}
	o := overhead{
		cpuOpOff: median(offCPU), cpuOpOn: median(onCPU),
		rateOff: float64(ops) / median(offWall), rateOn: float64(ops) / median(onWall),
		wallSlowdown: (median(onWall)/median(offWall) - 1) * 100,
		eventsPerSec: median(evRate), lost: slices.Max(lost), eventsPerOperation: median(evOp),
		sensorPerOp: median(sensorOp),
	}
	o.cpuSlowdown = (o.cpuOpOn/o.cpuOpOff - 1) * 100
	if len(sensorEv) > 0 {
		o.sensorPerEvent, o.bpfPerEvent = median(sensorEv), median(bpfEv)
	}
	b.ReportMetric(o.cpuOpOff, "cpu-ns/op-off")
	b.ReportMetric(o.cpuOpOn, "cpu-ns/op-on")
	b.ReportMetric(o.cpuSlowdown, "cpu-slowdown-%")
	b.ReportMetric(o.rateOff, "ops/s-off")
	b.ReportMetric(o.rateOn, "ops/s-on")
	b.ReportMetric(o.wallSlowdown, "wall-slowdown-%")
	b.ReportMetric(o.eventsPerSec, "events/s")
	b.ReportMetric(o.lost, "lost-max")
	b.ReportMetric(o.sensorPerEvent, "sensor-cpu-ns/event")
	b.ReportMetric(o.bpfPerEvent, "bpf-ns/event")
	b.ReportMetric(o.sensorPerOp, "sensor-cpu-ns/op")
	b.Logf("per pair: cpu ns/op off %v on %v; wall s off %v on %v; sensor cpu ns/event %v (eBPF %v); lost %v",
		fmtAll(offCPU), fmtAll(onCPU), fmtAll(offWall), fmtAll(onWall), fmtAll(sensorEv), fmtAll(bpfEv), lost)
	return o
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

// targetExecRate is the target: under 5% slowdown at 5,000 execs/s.
const targetExecRate = 5000

func BenchmarkSensorOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading eBPF programs needs root")
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const n = 5000
	// Fixed exec rates, highest first; a rate is sustained when the runs
	// without and with the sensor both reach 95% of it.
	results := map[int]overhead{}
	for _, rate := range []int{targetExecRate, 2000, 1000} {
		b.Run(fmt.Sprintf("exec-%d/s", rate), func(b *testing.B) {
			for b.Loop() {
				results[rate] = compare(b, n, func() { execs(b, n, rate, 8) })
			}
		})
	}
	var sat overhead
	b.Run("exec-saturated", func(b *testing.B) {
		for b.Loop() {
			sat = compare(b, n, func() { execs(b, n, 0, 2) })
		}
	})
	summarizeExec(b, results, sat)
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

// summarizeExec prints the exec results against the target: the slowdown
// at the highest fixed rate the machine sustains, at saturation, and the
// sensor's CPU at the target rate extrapolated from its CPU per exec.
func summarizeExec(b *testing.B, results map[int]overhead, sat overhead) {
	rates := make([]int, 0, len(results))
	for r := range results {
		rates = append(rates, r)
	}
	slices.Sort(rates)
	slices.Reverse(rates)
	var w strings.Builder
	fmt.Fprintf(&w, "\nexec overhead summary (target: under 5%% slowdown at %d execs/s)\n", targetExecRate)
	best := 0
	for _, r := range rates {
		o := results[r]
		ok := o.rateOff >= 0.95*float64(r) && o.rateOn >= 0.95*float64(r)
		if ok && best == 0 {
			best = r
		}
		fmt.Fprintf(&w, "  %5d/s fixed: reached %.0f/s without, %.0f/s with the sensor (sustained: %v); CPU/exec %.0f -> %.0f us (%+.1f%%); wall %+.1f%%; %.0f events/s; lost %.0f; sensor %.1f us/event (eBPF %.2f us)\n",
			r, o.rateOff, o.rateOn, ok, o.cpuOpOff/1e3, o.cpuOpOn/1e3, o.cpuSlowdown, o.wallSlowdown, o.eventsPerSec, o.lost, o.sensorPerEvent/1e3, o.bpfPerEvent/1e3)
	}
	fmt.Fprintf(&w, "  saturated (2 workers): %.0f/s without, %.0f/s with the sensor; CPU/exec %.0f -> %.0f us (%+.1f%%); wall %+.1f%%; %.0f events/s; lost %.0f; sensor %.1f us/event\n",
		sat.rateOff, sat.rateOn, sat.cpuOpOff/1e3, sat.cpuOpOn/1e3, sat.cpuSlowdown, sat.wallSlowdown, sat.eventsPerSec, sat.lost, sat.sensorPerEvent/1e3)
	if best > 0 {
		o := results[best]
		fmt.Fprintf(&w, "  highest fixed rate sustained: %d/s: CPU slowdown %+.1f%%, wall %+.1f%%\n", best, o.cpuSlowdown, o.wallSlowdown)
	} else {
		fmt.Fprintf(&w, "  no fixed rate sustained\n")
	}
	if results[targetExecRate].rateOff < 0.95*targetExecRate {
		// Extrapolate from the sensor's CPU per exec (the eBPF programs'
		// runs on the exec's other syscalls, opens of libraries, included).
		perExec := sat.sensorPerOp
		frac := perExec * targetExecRate / 1e9
		fmt.Fprintf(&w, "  this machine cannot drive %d execs/s (%.0f/s saturated without the sensor); extrapolated: sensor CPU %.1f us per exec x %d/s = %.1f%% of one core",
			targetExecRate, sat.rateOff, perExec/1e3, targetExecRate, frac*100)
		if sat.cpuOpOff > 0 {
			fmt.Fprintf(&w, ", against %.1f cores the execs themselves need at %.0f us each (%.1f%%)",
				sat.cpuOpOff*targetExecRate/1e9, sat.cpuOpOff/1e3, perExec/sat.cpuOpOff*100)
		}
		w.WriteString("\n")
	}
	b.Log(w.String())
	fmt.Print(w.String())
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
