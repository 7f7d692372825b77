package sensor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// maxProcs bounds the process table; it is emptied when full.
const maxProcs = 32768

// Procs remembers each process's executable and argv from its exec event,
// so that its later events (opens, connects) carry them, and resolves
// relative paths through /proc.
type Procs struct {
	// Root is where the host's /proc is mounted ("/proc").
	Root string
	mu   sync.Mutex
	m    map[uint32]Process
}

func (p *Procs) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// Observe resolves e's relative paths and returns e's process: from e
// itself for an exec (then remembered), from the table or /proc otherwise.
func (p *Procs) Observe(e *Event) Process {
	switch e.Kind {
	case KindExec:
		if !strings.HasPrefix(e.Path, "/") && e.Path != "" {
			e.Path = p.resolve(e.PID, -100, e.Path)
		}
		proc := Process{Exe: e.Path, Args: e.Args}
		p.mu.Lock()
		if p.m == nil || len(p.m) >= maxProcs {
			p.m = make(map[uint32]Process, 1024)
		}
		p.m[e.PID] = proc
		p.mu.Unlock()
		return proc
	case KindOpen:
		if !strings.HasPrefix(e.Path, "/") && e.Path != "" {
			e.Path = p.resolve(e.PID, e.Arg, e.Path)
		}
	}
	p.mu.Lock()
	proc, ok := p.m[e.PID]
	p.mu.Unlock()
	if ok {
		return proc
	}
	dir := filepath.Join(p.root(), strconv.Itoa(int(e.PID)))
	exe, _ := os.Readlink(filepath.Join(dir, "exe"))
	var args []string
	if data, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		args = splitArgs(data)
	}
	return Process{Exe: p.inRoot(e.PID, exe), Args: args}
}

// resolve makes a relative path absolute against the process's working
// directory (dirfd -100) or the directory dirfd names, as the process sees
// it (its root's host path stripped). Unresolvable paths stay relative.
func (p *Procs) resolve(pid uint32, dirfd int64, rel string) string {
	dir := filepath.Join(p.root(), strconv.Itoa(int(pid)))
	link := filepath.Join(dir, "cwd")
	if dirfd != -100 {
		link = filepath.Join(dir, "fd", strconv.FormatInt(dirfd, 10))
	}
	base, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(base, "/") {
		return rel
	}
	return filepath.Join(p.inRoot(pid, base), rel)
}

// inRoot strips the process's root directory (a container's rootfs as the
// host sees it) from a host path.
func (p *Procs) inRoot(pid uint32, hostPath string) string {
	root, err := os.Readlink(filepath.Join(p.root(), strconv.Itoa(int(pid)), "root"))
	if err != nil || root == "/" || hostPath == "" {
		return hostPath
	}
	if rest, ok := strings.CutPrefix(hostPath, root); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			return "/"
		}
		return rest
	}
	return hostPath
}
