package sensor

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/detect"
)

// TestNoMatchMemo: an event equal to one that matched nothing is skipped,
// but never when it differs in a field rules read, nor for rules that
// read pids.
func TestNoMatchMemo(t *testing.T) {
	rules, err := detect.Parse("memo.yaml", []byte(`
- id: by-exe
  title: t
  severity: low
  mitre: [T1059]
  source: sensor
  match: {eventTypes: [exec]}
  condition: proc.exeName == "nc"
  output: o
- id: by-pid
  title: t
  severity: low
  mitre: [T1059]
  source: sensor
  match: {eventTypes: [open]}
  condition: file.path == "/x" && proc.pid == 7
  output: o
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Rules: rs, Attributor: &Attributor{ProcRoot: t.TempDir()}, Procs: &Procs{Root: t.TempDir()}}
	exec := func(pid uint32, exe string) Event {
		return Event{Kind: KindExec, PID: pid, PPID: pid - 1, Comm: "c", CgroupPath: "/system.slice/a.service", Path: exe, Args: []string{exe}}
	}
	open := func(pid uint32) Event {
		return Event{Kind: KindOpen, PID: pid, CgroupPath: "/system.slice/a.service", Comm: "c", Path: "/x", Arg: -100}
	}
	for i, tt := range []struct {
		ev        Event
		want      int
		memoised  bool // the event's no-match outcome is remembered after it
		skippable bool // the event is skipped (an equal one matched nothing)
	}{
		{exec(100, "/bin/true"), 0, true, false},
		{exec(200, "/bin/true"), 0, true, true}, // another pid, same command
		{exec(300, "/usr/bin/nc"), 1, false, false},
		{exec(400, "/bin/true"), 0, true, true},
		{open(5), 0, false, false}, // reads proc.pid: the memo turns off for opens
		{open(7), 1, false, false},
		{open(5), 0, false, false},
	} {
		in := &Input{Event: &tt.ev, Process: Process{Exe: tt.ev.Path, Args: tt.ev.Args}, Attribution: &Attribution{}}
		if tt.ev.Kind != KindExec {
			in.Process = r.Procs.Observe(&tt.ev)
		}
		at := r.Attributor.Attribute(context.Background(), &tt.ev)
		in.Attribution = &at
		key, on := r.memo.key(in)
		if skipped := on && r.memo.seenNoMatch(key); skipped != tt.skippable {
			t.Errorf("event %d: skipped %v, want %v", i, skipped, tt.skippable)
		}
		if got := len(r.Handle(context.Background(), tt.ev)); got != tt.want {
			t.Errorf("event %d: %d alerts, want %d", i, got, tt.want)
		}
		if _, on := r.memo.key(in); on != tt.memoised && tt.ev.Kind != KindExec {
			t.Errorf("event %d: memo on %v, want %v", i, on, tt.memoised)
		}
	}
}

// TestRepeatedAlert: the same process doing the same thing again raises the
// same alert at the new time; another process's alert is its own.
func TestRepeatedAlert(t *testing.T) {
	rs := compileDefaults(t)
	r := &Runner{Rules: rs, Attributor: &Attributor{ProcRoot: t.TempDir()}, Procs: &Procs{Root: t.TempDir()}}
	open := func(pid uint32, ns uint64, path string) Event {
		return Event{Kind: KindOpen, PID: pid, PPID: 1, BootNS: ns, CgroupPath: "/", Comm: "cat", Path: path, Arg: -100}
	}
	first := r.Handle(context.Background(), open(10, 1e9, "/etc/shadow"))
	again := r.Handle(context.Background(), open(10, 2e9, "/etc/shadow"))
	other := r.Handle(context.Background(), open(11, 3e9, "/etc/shadow"))
	gshadow := r.Handle(context.Background(), open(10, 4e9, "/etc/gshadow"))
	if len(first) != 1 || len(again) != 1 || len(other) != 1 || len(gshadow) != 1 {
		t.Fatalf("alerts %d %d %d %d, want 1 each", len(first), len(again), len(other), len(gshadow))
	}
	if a, b := first[0], again[0]; b.Time.Sub(a.Time) != time.Second || b.FirstSeen != b.Time || b.Output != a.Output || b.Key != a.Key || b.Event["pid"] != "10" {
		t.Errorf("repeat %+v of %+v", b, a)
	}
	if other[0].Event["pid"] != "11" || gshadow[0].Event["file"] != "/etc/gshadow" {
		t.Errorf("other process %v, other file %v", other[0].Event, gshadow[0].Event)
	}
}
