package sensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-dev/rampart/internal/sensor/bpf"
)

// Kind is the type of a sensor event.
type Kind uint32

// Event kinds, as numbered by the eBPF programs.
const (
	KindExec    Kind = 1
	KindOpen    Kind = 2
	KindConnect Kind = 3
	KindPtrace  Kind = 4
	KindSetuid  Kind = 5
	KindModule  Kind = 6
)

var kindNames = map[Kind]string{
	KindExec:    "exec",
	KindOpen:    "open",
	KindConnect: "connect",
	KindPtrace:  "ptrace",
	KindSetuid:  "setuid",
	KindModule:  "module",
}

// Kinds lists every event kind in number order.
var Kinds = []Kind{KindExec, KindOpen, KindConnect, KindPtrace, KindSetuid, KindModule}

// String returns the kind's name as rules see it ("exec", "open", …).
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// openWriteFlags are the open flags that make an open a write.
const openWriteFlags = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC

// Event is one decoded sensor event. Fields a kind does not use are zero.
type Event struct {
	// Kind is what happened.
	Kind Kind
	// BootNS is the kernel's monotonic time of the event (bpf_ktime_get_ns).
	BootNS uint64
	// PID is the process (thread group) id, TID the thread id, PPID the
	// parent process id; all in the host PID namespace.
	PID, TID, PPID uint32
	// UID and GID are the real user and group ids (host user namespace).
	UID, GID uint32
	// Comm and ParentComm are the kernel's task names (at most 15 bytes).
	Comm, ParentComm string
	// CgroupID is the cgroup v2 id of the task.
	CgroupID uint64
	// CgroupPath is the task's cgroup v2 path, or its last levels (up to
	// four) when the cgroup is deeper; "/" for the root cgroup.
	CgroupPath string
	// Path is the executable (exec) or the file (open).
	Path string
	// Args is argv (exec), truncated to 512 bytes in the kernel.
	Args []string
	// Flags are the open flags (open), the ptrace request (ptrace), the
	// number of uid arguments (setuid) or the finit_module flags (module).
	Flags uint32
	// Arg is the ptrace target pid (ptrace), the socket fd (connect), the
	// directory fd of a relative path (open, -100 for the working directory) or the
	// module file descriptor (module; -1 for init_module).
	Arg int64
	// Addr and Port are the destination of a connect.
	Addr netip.Addr
	Port uint16
}

// Write reports whether an open was for writing (O_WRONLY, O_RDWR, O_CREAT
// or O_TRUNC).
func (e *Event) Write() bool { return e.Flags&openWriteFlags != 0 }

var rawSize = int(unsafe.Sizeof(bpf.SensorEvent{}))

// Field offsets of the kernel's struct event, taken from the generated Go
// struct so that they follow the C definition.
var (
	offTs         = int(unsafe.Offsetof(bpf.SensorEvent{}.TsNs))
	offCgroupID   = int(unsafe.Offsetof(bpf.SensorEvent{}.CgroupId))
	offKind       = int(unsafe.Offsetof(bpf.SensorEvent{}.Kind))
	offPid        = int(unsafe.Offsetof(bpf.SensorEvent{}.Pid))
	offTid        = int(unsafe.Offsetof(bpf.SensorEvent{}.Tid))
	offPpid       = int(unsafe.Offsetof(bpf.SensorEvent{}.Ppid))
	offUID        = int(unsafe.Offsetof(bpf.SensorEvent{}.Uid))
	offGID        = int(unsafe.Offsetof(bpf.SensorEvent{}.Gid))
	offFlags      = int(unsafe.Offsetof(bpf.SensorEvent{}.Flags))
	offArg        = int(unsafe.Offsetof(bpf.SensorEvent{}.Arg))
	offFamily     = int(unsafe.Offsetof(bpf.SensorEvent{}.Family))
	offPort       = int(unsafe.Offsetof(bpf.SensorEvent{}.Port))
	offArgsLen    = int(unsafe.Offsetof(bpf.SensorEvent{}.ArgsLen))
	offAddr       = int(unsafe.Offsetof(bpf.SensorEvent{}.Addr))
	offComm       = int(unsafe.Offsetof(bpf.SensorEvent{}.Comm))
	offPcomm      = int(unsafe.Offsetof(bpf.SensorEvent{}.Pcomm))
	offCgroup     = int(unsafe.Offsetof(bpf.SensorEvent{}.Cgroup))
	offPath       = int(unsafe.Offsetof(bpf.SensorEvent{}.Path))
	offArgs       = int(unsafe.Offsetof(bpf.SensorEvent{}.Args))
	cgroupLevels  = len(bpf.SensorEvent{}.Cgroup)
	cgroupNameLen = len(bpf.SensorEvent{}.Cgroup[0])
	argsCap       = len(bpf.SensorEvent{}.Args)
)

// ErrShortEvent is returned by Decode for a record smaller than an event.
var ErrShortEvent = errors.New("sensor: short event record")

// Decode decodes one ring-buffer record. It never panics: a short record
// or an unknown kind is an error.
func Decode(raw []byte) (Event, error) {
	if len(raw) < rawSize {
		return Event{}, fmt.Errorf("%w: %d bytes, want %d", ErrShortEvent, len(raw), rawSize)
	}
	le := binary.LittleEndian
	e := Event{
		Kind:       Kind(le.Uint32(raw[offKind:])),
		BootNS:     le.Uint64(raw[offTs:]),
		CgroupID:   le.Uint64(raw[offCgroupID:]),
		PID:        le.Uint32(raw[offPid:]),
		TID:        le.Uint32(raw[offTid:]),
		PPID:       le.Uint32(raw[offPpid:]),
		UID:        le.Uint32(raw[offUID:]),
		GID:        le.Uint32(raw[offGID:]),
		Flags:      le.Uint32(raw[offFlags:]),
		Arg:        int64(le.Uint64(raw[offArg:])),
		Comm:       cstring(raw[offComm : offComm+16]),
		ParentComm: cstring(raw[offPcomm : offPcomm+16]),
		Path:       cstring(raw[offPath : offPath+256]),
	}
	if _, ok := kindNames[e.Kind]; !ok {
		return Event{}, fmt.Errorf("sensor: unknown event kind %d", uint32(e.Kind))
	}
	e.CgroupPath = cgroupSuffix(raw[offCgroup : offCgroup+cgroupLevels*cgroupNameLen])
	switch e.Kind {
	case KindExec:
		n := int(le.Uint32(raw[offArgsLen:]))
		e.Args = splitArgs(raw[offArgs : offArgs+min(n, argsCap)])
	case KindConnect:
		switch le.Uint16(raw[offFamily:]) {
		case 2:
			e.Addr = netip.AddrFrom4([4]byte(raw[offAddr : offAddr+4]))
		case 10:
			e.Addr = netip.AddrFrom16([16]byte(raw[offAddr : offAddr+16])).Unmap()
		}
		e.Port = le.Uint16(raw[offPort:])
	}
	return e, nil
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// cgroupSuffix joins the cgroup names the kernel read, leaf first, into a
// path ("/" when the task is in the root cgroup).
func cgroupSuffix(b []byte) string {
	var names []string
	for i := range cgroupLevels {
		name := cstring(b[i*cgroupNameLen : (i+1)*cgroupNameLen])
		if name == "" {
			break
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return "/"
	}
	var sb strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.WriteString(names[i])
	}
	return sb.String()
}

// splitArgs splits NUL-separated argv bytes; a truncated last argument is
// kept as it is.
func splitArgs(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}
