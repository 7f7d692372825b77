package sensor

import (
	"hash/maphash"
	"sync"
)

// maxMemo bounds the remembered no-match events; the set is emptied when
// full.
const maxMemo = 1 << 16

// noMatchMemo remembers events on which no rule matched, by a hash of
// everything rules can read of them except the process and parent ids
// (which differ for every exec of the same command). The rules are CEL
// without side effects or clocks, so another event equal in everything
// else cannot match either, and its evaluation is skipped: a node runs the
// same commands, with the same arguments, in the same containers, over and
// over. When a rule reads proc.pid or proc.ppid on an event that matched
// nothing, the memo is turned off for that kind of event.
type noMatchMemo struct {
	mu   sync.Mutex
	seed maphash.Seed
	seen map[uint64]struct{}
	off  [KindModule + 1]bool
}

// key hashes in's rule-visible fields but pids; ok is false when the memo
// is off for in's kind.
func (m *noMatchMemo) key(in *Input) (key uint64, ok bool) {
	e := in.Event
	if int(e.Kind) >= len(m.off) {
		return 0, false
	}
	m.mu.Lock()
	off, seed := m.off[e.Kind], m.init()
	m.mu.Unlock()
	if off {
		return 0, false
	}
	return m.hash(seed, in), true
}

func (m *noMatchMemo) init() maphash.Seed {
	if m.seen == nil {
		m.seed = maphash.MakeSeed()
		m.seen = make(map[uint64]struct{}, 1024)
	}
	return m.seed
}

// repeatKey hashes everything an alert of in says (the rule-visible fields,
// pids and the cgroup path): equal keys give equal alerts but for the time.
func (m *noMatchMemo) repeatKey(in *Input) uint64 {
	m.mu.Lock()
	seed := m.init()
	m.mu.Unlock()
	var h maphash.Hash
	h.SetSeed(seed)
	var b [24]byte
	v := [3]uint64{m.hash(seed, in), uint64(in.Event.PID)<<32 | uint64(in.Event.PPID), uint64(len(in.Attribution.CgroupPath))}
	for i, x := range v {
		for j := range 8 {
			b[i*8+j] = byte(x >> (8 * j))
		}
	}
	_, _ = h.Write(b[:])
	_, _ = h.WriteString(in.Attribution.CgroupPath)
	return h.Sum64()
}

func (m *noMatchMemo) hash(seed maphash.Seed, in *Input) uint64 {
	e := in.Event
	var h maphash.Hash
	h.SetSeed(seed)
	num := func(v uint64) {
		var b [8]byte
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		_, _ = h.Write(b[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		_, _ = h.WriteString(s)
	}
	num(uint64(e.Kind))
	num(uint64(e.UID)<<32 | uint64(e.GID))
	num(uint64(e.Flags))
	num(uint64(e.Arg))
	num(uint64(e.Port))
	str(e.Comm)
	str(e.ParentComm)
	str(e.Path)
	if e.Addr.IsValid() {
		b := e.Addr.As16()
		_, _ = h.Write(b[:])
	}
	num(uint64(len(in.Process.Args)))
	for _, a := range in.Process.Args {
		str(a)
	}
	str(in.Process.Exe)
	at := in.Attribution
	str(at.Container.ID)
	str(at.Container.Runtime)
	str(at.Container.PodUID)
	str(at.ContainerName)
	str(at.Image)
	str(at.ImageID)
	if p := at.Pod; p != nil {
		str(p.Name)
		str(p.Namespace)
		str(p.ServiceAccount)
		str(p.WorkloadKind)
		str(p.WorkloadName)
	} else {
		num(0)
	}
	return h.Sum64()
}

// seenNoMatch reports whether an event with key matched nothing before.
func (m *noMatchMemo) seenNoMatch(key uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.seen[key]
	return ok
}

// record remembers the outcome of evaluating in: no match and no pid read
// adds key; a pid read turns the memo off for in's kind.
func (m *noMatchMemo) record(in *Input, key uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.readPID {
		m.off[in.Event.Kind] = true
		return
	}
	if len(m.seen) >= maxMemo {
		clear(m.seen)
	}
	m.seen[key] = struct{}{}
}
