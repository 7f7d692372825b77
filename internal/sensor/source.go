package sensor

import (
	"path"
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

// activation builds each variable when a rule first reads it.
type activation struct {
	in   *Input
	vars map[string]any
}

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	if v, ok := a.vars[name]; ok {
		return v, true
	}
	v, ok := a.build(name)
	if !ok {
		return nil, false
	}
	if a.vars == nil {
		a.vars = make(map[string]any, 4)
	}
	a.vars[name] = v
	return v, true
}

func (a *activation) build(name string) (any, bool) {
	e, at := a.in.Event, a.in.Attribution
	switch name {
	case "kind":
		return e.Kind.String(), true
	case "proc":
		args := a.in.Process.Args
		if args == nil {
			args = []string{}
		}
		return map[string]any{
			"name": e.Comm, "exe": a.in.Process.Exe, "exeName": path.Base(a.in.Process.Exe),
			"args": args, "cmdline": strings.Join(args, " "),
			"pid": int64(e.PID), "ppid": int64(e.PPID), "uid": int64(e.UID), "gid": int64(e.GID),
			"parentName": e.ParentComm,
		}, true
	case "file":
		p := ""
		if e.Kind == KindOpen {
			p = e.Path
		}
		return map[string]any{"path": p, "write": e.Kind == KindOpen && e.Write(), "flags": int64(e.Flags)}, true
	case "net":
		addr, family := "", ""
		if e.Addr.IsValid() {
			addr = e.Addr.String()
			family = "ipv6"
			if e.Addr.Is4() {
				family = "ipv4"
			}
		}
		return map[string]any{"addr": addr, "port": int64(e.Port), "family": family}, true
	case "ptrace":
		req := ""
		if e.Kind == KindPtrace {
			req = "attach"
			if e.Flags == 0x4206 {
				req = "seize"
			}
		}
		return map[string]any{"request": req, "target": e.Arg}, true
	case "container":
		return map[string]any{
			"host": at.Container.Host(), "id": at.Container.ID, "runtime": at.Container.Runtime,
			"name": at.ContainerName, "image": at.Image, "imageID": at.ImageID,
		}, true
	case "pod":
		m := map[string]any{"name": "", "namespace": "", "uid": at.Container.PodUID, "serviceAccount": ""}
		if p := at.Pod; p != nil {
			m["name"], m["namespace"], m["serviceAccount"] = p.Name, p.Namespace, p.ServiceAccount
		}
		return m, true
	case "cluster":
		s := a.in.APIServers
		if s == nil {
			s = []string{}
		}
		return map[string]any{"apiServers": s}, true
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
