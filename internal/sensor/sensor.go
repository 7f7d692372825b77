package sensor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/rampart-dev/rampart/internal/oneline"
	"github.com/rampart-dev/rampart/internal/sensor/bpf"
)

// TracefsDir is where the syscall tracepoints are looked up.
const TracefsDir = "/sys/kernel/tracing"

// WakeupBytes is how much data waits in the ring buffer before the kernel
// wakes the reader; below it, the reader collects events every
// FlushInterval. Batching wakeups keeps the sensor's cost per event low.
const WakeupBytes = 64 << 10

// FlushInterval bounds how long an event waits in the ring buffer when
// fewer than WakeupBytes are pending (the detection latency added).
const FlushInterval = 20 * time.Millisecond

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("sensor: closed")

// probe is one attachment of a program.
type probe struct {
	name     string // what it observes, for messages
	prog     func(*bpf.SensorObjects) *ebpf.Program
	attach   func(*ebpf.Program) (link.Link, error)
	optional bool // absent on some kernels (module loads without CONFIG_MODULES)
}

func tracepoint(name string) func(*ebpf.Program) (link.Link, error) {
	return func(p *ebpf.Program) (link.Link, error) { return link.Tracepoint("syscalls", name, p, nil) }
}

func tracing(p *ebpf.Program) (link.Link, error) {
	return link.AttachTracing(link.TracingOptions{Program: p})
}

var probes = []probe{
	{name: "exec (tp_btf/sched_process_exec)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnExec }, attach: tracing},
	{name: "openat (syscalls/sys_enter_openat)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnOpenat }, attach: tracepoint("sys_enter_openat")},
	{name: "openat2 (syscalls/sys_enter_openat2)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnOpenat2 }, attach: tracepoint("sys_enter_openat2"), optional: true},
	{name: "open (syscalls/sys_enter_open)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnOpen }, attach: tracepoint("sys_enter_open"), optional: true},
	{name: "creat (syscalls/sys_enter_creat)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnCreat }, attach: tracepoint("sys_enter_creat"), optional: true},
	{name: "connect (syscalls/sys_enter_connect)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnConnect }, attach: tracepoint("sys_enter_connect")},
	{name: "ptrace (syscalls/sys_enter_ptrace)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnPtrace }, attach: tracepoint("sys_enter_ptrace")},
	{name: "setuid (syscalls/sys_enter_setuid)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnSetuid }, attach: tracepoint("sys_enter_setuid")},
	{name: "setreuid (syscalls/sys_enter_setreuid)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnSetreuid }, attach: tracepoint("sys_enter_setreuid")},
	{name: "setresuid (syscalls/sys_enter_setresuid)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnSetresuid }, attach: tracepoint("sys_enter_setresuid")},
	{name: "init_module (syscalls/sys_enter_init_module)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnInitModule }, attach: tracepoint("sys_enter_init_module"), optional: true},
	{name: "finit_module (syscalls/sys_enter_finit_module)", prog: func(o *bpf.SensorObjects) *ebpf.Program { return o.OnFinitModule }, attach: tracepoint("sys_enter_finit_module"), optional: true},
}

// Sensor is the loaded and attached set of eBPF programs and the reader of
// their ring buffer. Read is meant for one goroutine; Stats, Lost and Close
// are safe from any.
type Sensor struct {
	objs        bpf.SensorObjects
	links       []link.Link
	reader      *ringbuf.Reader
	unsupported []string

	rec       ringbuf.Record
	byKind    [KindModule + 1]atomic.Uint64
	malformed atomic.Uint64
	closeOnce sync.Once
	closeErr  error
}

// Open loads the programs (CO-RE against /sys/kernel/btf/vmlinux), attaches
// them and opens the ring buffer. It removes the memlock rlimit and mounts
// tracefs when it is not mounted. Probes whose hook this kernel lacks and
// that are optional (module loads) are listed by Unsupported; any other
// failure is an error naming the probe.
func Open() (*Sensor, error) { return OpenWith("/proc") }

// OpenWith is Open for a sensor that sees the host's /proc at procRoot
// (a container with the host's /proc mounted, as the DaemonSet has): the
// eBPF programs see host process IDs, so the sensor drops its own events
// by its ID in the host's PID namespace, read from procRoot/self.
func OpenWith(procRoot string) (*Sensor, error) {
	if err := removeMemlock(); err != nil {
		return nil, err
	}
	if err := EnsureTracefs(); err != nil {
		return nil, err
	}
	spec, err := bpf.LoadSensor()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded eBPF object: %w", err)
	}
	if err := spec.Variables[bpf.SensorVarSelfTgid].Set(SelfPID(procRoot)); err != nil {
		return nil, fmt.Errorf("setting self_tgid: %w", err)
	}
	if err := spec.Variables[bpf.SensorVarWakeupBytes].Set(uint64(WakeupBytes)); err != nil {
		return nil, fmt.Errorf("setting wakeup_bytes: %w", err)
	}
	s := &Sensor{}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("loading eBPF programs: verifier: %s", oneline.String(strings.Join(tail(verr.Log, 5), " ")))
		}
		return nil, fmt.Errorf("loading eBPF programs (needs CAP_BPF and CAP_PERFMON, and kernel BTF): %s", oneline.Err(err))
	}
	for _, p := range probes {
		l, err := p.attach(p.prog(&s.objs))
		if err != nil {
			if p.optional && errors.Is(err, os.ErrNotExist) {
				s.unsupported = append(s.unsupported, p.name)
				continue
			}
			_ = s.Close()
			return nil, fmt.Errorf("attaching %s: %s", p.name, oneline.Err(err))
		}
		s.links = append(s.links, l)
	}
	if s.reader, err = ringbuf.NewReader(s.objs.Events); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("opening the ring buffer: %s", oneline.Err(err))
	}
	return s, nil
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// EnsureTracefs mounts tracefs on TracefsDir when it is not mounted (the
// syscall tracepoints are looked up there).
func EnsureTracefs() error {
	if _, err := os.Stat(TracefsDir + "/events"); err == nil {
		return nil
	}
	if err := unix.Mount("tracefs", TracefsDir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted on %s and mounting it failed (%w): run mount -t tracefs tracefs %s", TracefsDir, err, TracefsDir)
	}
	return nil
}

// Unsupported names the optional probes this kernel has no hook for.
func (s *Sensor) Unsupported() []string { return s.unsupported }

// Read blocks for the next event. It returns ErrClosed after Close. A
// malformed record is counted and skipped.
func (s *Sensor) Read() (Event, error) {
	for {
		s.reader.SetDeadline(time.Now().Add(FlushInterval))
		if err := s.reader.ReadInto(&s.rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return Event{}, ErrClosed
			}
			return Event{}, fmt.Errorf("reading the ring buffer: %w", err)
		}
		e, err := Decode(s.rec.RawSample)
		if err != nil {
			s.malformed.Add(1)
			continue
		}
		s.byKind[e.Kind].Add(1)
		return e, nil
	}
}

// Run calls fn for every event until ctx is done or the sensor is closed;
// it closes the sensor when ctx is done.
func (s *Sensor) Run(ctx context.Context, fn func(Event)) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	for {
		e, err := s.Read()
		if errors.Is(err, ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(e)
	}
}

// Stats are the sensor's counters since Open.
type Stats struct {
	// Events counts the events read, by kind.
	Events map[Kind]uint64
	// Lost counts the events the kernel could not queue (ring buffer full).
	Lost uint64
	// Malformed counts records that did not decode.
	Malformed uint64
}

// Stats returns the counters. Lost is read from the kernel's per-CPU map.
func (s *Sensor) Stats() (Stats, error) {
	st := Stats{Events: make(map[Kind]uint64, len(Kinds)), Malformed: s.malformed.Load()}
	for _, k := range Kinds {
		st.Events[k] = s.byKind[k].Load()
	}
	var err error
	st.Lost, err = s.Lost()
	return st, err
}

// Lost sums the per-CPU count of failed ring buffer reservations.
func (s *Sensor) Lost() (uint64, error) {
	var perCPU []uint64
	if err := s.objs.Lost.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("reading lost events: %w", err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}

// Close detaches the programs and releases the ring buffer and maps.
func (s *Sensor) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		for _, l := range s.links {
			errs = append(errs, l.Close())
		}
		errs = append(errs, s.objs.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// KernelTime sums the run time and run count of the sensor's attached
// programs. The kernel counts them only while statistics are enabled
// (ebpf.EnableStats with BPF_STATS_RUN_TIME, or sysctl
// kernel.bpf_stats_enabled=1); otherwise both are zero.
func (s *Sensor) KernelTime() (time.Duration, uint64, error) {
	var total time.Duration
	var runs uint64
	for _, p := range probes {
		prog := p.prog(&s.objs)
		if prog == nil {
			continue
		}
		st, err := prog.Stats()
		if err != nil {
			return 0, 0, fmt.Errorf("reading statistics of %s: %w", p.name, err)
		}
		total += st.Runtime
		runs += st.RunCount
	}
	return total, runs, nil
}

// SelfPID returns this process's ID as the procfs mounted at procRoot
// numbers it: procRoot/self resolves in the PID namespace of that procfs,
// so with the host's /proc mounted in a container it is the host PID that
// eBPF programs see. It falls back to os.Getpid().
func SelfPID(procRoot string) uint32 {
	if target, err := os.Readlink(filepath.Join(procRoot, "self")); err == nil {
		if pid, err := strconv.ParseUint(target, 10, 32); err == nil && pid > 0 {
			return uint32(pid)
		}
	}
	return uint32(os.Getpid())
}

// removeMemlock lifts RLIMIT_MEMLOCK, which bounds eBPF maps and programs
// on kernels before 5.11 (later kernels charge them to the memory cgroup).
// It is done here, when the sensor opens, rather than through
// cilium/ebpf's rlimit package, whose init probes the kernel (prlimit and
// a BPF map creation) in every process that links it: every rampart
// command. Without CAP_SYS_RESOURCE the limit cannot be raised, which is
// an error only on the kernels that need it.
func removeMemlock() error {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf)
	if err == nil || !memlockCharged() {
		return nil
	}
	return fmt.Errorf("removing the memlock rlimit (needs CAP_SYS_RESOURCE on kernels before 5.11): %s", oneline.Err(err))
}

// memlockCharged reports whether this kernel charges eBPF memory to
// RLIMIT_MEMLOCK (before 5.11), from its release; true when unknown.
func memlockCharged() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return true
	}
	return kernelBefore(unix.ByteSliceToString(u.Release[:]), 5, 11)
}

// kernelBefore reports whether a kernel release ("6.18.44-fc-v669") is
// older than major.minor; true when it cannot be read.
func kernelBefore(release string, major, minor int) bool {
	maj, rest, ok := strings.Cut(release, ".")
	if !ok {
		return true
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	mj, err1 := strconv.Atoi(maj)
	mn, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil {
		return true
	}
	return mj < major || (mj == major && mn < minor)
}
