package sensor

import (
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/interpreter"

	"github.com/rampart-dev/rampart/internal/detect"
)

// Process is what is known of the process behind an event.
type Process struct {
	// Exe is the executable's path, Args its argv.
	Exe  string
	Args []string
}

// Input is what sensor rules are evaluated on: one event, its process and
// its attribution.
type Input struct {
	// Event is the kernel's event (paths resolved).
	Event *Event
	// Process is the event's process.
	Process Process
	// Attribution is the event's container and pod.
	Attribution *Attribution
	// APIServers are the addresses of the Kubernetes API server rules
	// compare with (host names, IPs and host:port).
	APIServers []string

	readPID bool // a rule read proc.pid or proc.ppid (see noMatchMemo)
}

// Source is the sensor's event stream for internal/detect. Its rules see:
//
//	kind        string: exec, open, connect, ptrace, setuid, module
//	proc        map: name (comm), exe, exeName (base name of exe), args
//	            (list), cmdline, pid, ppid, uid, gid, parentName
//	file        map: path, write (bool), flags (open)
//	net         map: addr, port, family ("ipv4", "ipv6") (connect)
//	ptrace      map: request ("attach", "seize"), target (pid)
//	container   map: host (bool), id, runtime, name, image, imageID
//	pod         map: name, namespace, uid, serviceAccount ("" when unknown)
//	cluster     map: apiServers (list of addresses)
//
// Every key is always present (empty or zero when it does not apply).
var Source = detect.Source{
	Name: "sensor",
	Declarations: []cel.EnvOption{
		cel.Variable("kind", cel.StringType),
		cel.Variable("proc", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("file", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("net", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("ptrace", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("container", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("pod", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("cluster", cel.MapType(cel.StringType, cel.DynType)),
	},
	MatchFields: []string{"eventTypes", "namespaces"},
	Facts: func(ev any) detect.Facts {
		in := ev.(*Input)
		f := detect.Facts{Type: in.Event.Kind.String()}
		if p := in.Attribution.Pod; p != nil {
			f.Namespace = p.Namespace
		}
		return f
	},
	Activation: func(ev any) interpreter.Activation { return &activation{in: ev.(*Input)} },
}

// activation builds each variable when a rule first reads it and keeps it
// for the event's other rules.
type activation struct {
	in   *Input
	vars [len(varNames)]any
}

// varNames are the variables of Source, in activation slot order.
var varNames = [...]string{"kind", "proc", "file", "net", "ptrace", "container", "pod", "cluster"}

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	i := slices.Index(varNames[:], name)
	if i < 0 {
		return nil, false
	}
	if v := a.vars[i]; v != nil {
		return v, true
	}
	v, ok := a.build(name)
	if !ok {
		return nil, false
	}
	a.vars[i] = v
	return v, true
}

func (a *activation) build(name string) (any, bool) {
	switch name {
	case "kind":
		return a.in.Event.Kind.String(), true
	case "proc":
		return &varMap{in: a.in, kind: varProc}, true
	case "file":
		return &varMap{in: a.in, kind: varFile}, true
	case "net":
		return &varMap{in: a.in, kind: varNet}, true
	case "ptrace":
		return &varMap{in: a.in, kind: varPtrace}, true
	case "container":
		return &varMap{in: a.in, kind: varContainer}, true
	case "pod":
		return &varMap{in: a.in, kind: varPod}, true
	case "cluster":
		return &varMap{in: a.in, kind: varCluster}, true
	}
	return nil, false
}

// Facts returns an alert's key event facts (never file contents or
// environment variables).
func (in *Input) Facts() map[string]string {
	e := in.Event
	f := map[string]string{
		"type": e.Kind.String(), "pid": strconv.FormatUint(uint64(e.PID), 10), "ppid": strconv.FormatUint(uint64(e.PPID), 10),
		"uid": strconv.FormatUint(uint64(e.UID), 10), "process": e.Comm, "parent": e.ParentComm,
		"cgroup": in.Attribution.CgroupPath,
	}
	if in.Process.Exe != "" {
		f["exe"] = in.Process.Exe
	}
	if len(in.Process.Args) > 0 {
		f["cmdline"] = strings.Join(in.Process.Args, " ")
	}
	if c := in.Attribution.Container; !c.Host() {
		f["containerID"] = c.ID
		if c.Runtime != "" {
			f["runtime"] = c.Runtime
		}
	}
	if c := in.Attribution.Container; c.PodUID != "" {
		f["podUID"] = c.PodUID
	}
	switch e.Kind {
	case KindOpen:
		f["file"] = e.Path
		f["write"] = strconv.FormatBool(e.Write())
	case KindConnect:
		f["address"] = e.Addr.String()
		f["port"] = strconv.Itoa(int(e.Port))
	case KindPtrace:
		f["target"] = strconv.FormatInt(e.Arg, 10)
	}
	return f
}
