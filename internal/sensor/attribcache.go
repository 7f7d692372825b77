package sensor

import "sync"

// maxCgroups bounds the cgroup cache; it is emptied when full.
const maxCgroups = 8192

// attribCache keeps what attribution derives from the cgroup, so that the
// events of one container or process do not parse paths or read /proc
// again.
type attribCache struct {
	mu      sync.Mutex
	cgroups map[uint64]cgroupEntry // by cgroup v2 id
	procs   map[uint32]procEntry   // by pid: /proc/<pid>/cgroup read at exec
}

type cgroupEntry struct {
	path string
	c    Container
}

type procEntry struct {
	ppid uint32
	comm string
	path string
	c    Container
}

// parse returns ParseCgroup(path), from the cache when the cgroup id was
// seen with the same path.
func (k *attribCache) parse(id uint64, path string) Container {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.cgroups[id]; ok && e.path == path {
		return e.c
	}
	c := ParseCgroup(path)
	if k.cgroups == nil || len(k.cgroups) >= maxCgroups {
		k.cgroups = make(map[uint64]cgroupEntry, 256)
	}
	k.cgroups[id] = cgroupEntry{path: path, c: c}
	return c
}

// proc returns the cgroup read at e's process's exec when the process is
// the same (same parent and name: a reused pid usually differs in both).
func (k *attribCache) proc(e *Event) (string, Container, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.procs[e.PID]
	if !ok || p.ppid != e.PPID || p.comm != e.Comm {
		return "", Container{}, false
	}
	return p.path, p.c, true
}

func (k *attribCache) setProc(e *Event, path string, c Container) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.procs == nil || len(k.procs) >= maxProcs {
		k.procs = make(map[uint32]procEntry, 1024)
	}
	k.procs[e.PID] = procEntry{ppid: e.PPID, comm: e.Comm, path: path, c: c}
}
