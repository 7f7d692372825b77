package sensor

import (
	"path"
	"reflect"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// varKind is one of Source's map variables.
type varKind uint8

const (
	varProc varKind = iota
	varFile
	varNet
	varPtrace
	varContainer
	varPod
	varCluster
)

// varKeys are each map variable's keys, in slot order.
var varKeys = [...][]string{
	varProc:      {"name", "exe", "exeName", "args", "cmdline", "pid", "ppid", "uid", "gid", "parentName"},
	varFile:      {"path", "write", "flags"},
	varNet:       {"addr", "port", "family"},
	varPtrace:    {"request", "target"},
	varContainer: {"host", "id", "runtime", "name", "image", "imageID"},
	varPod:       {"name", "namespace", "uid", "serviceAccount"},
	varCluster:   {"apiServers"},
}

// maxVarKeys is the longest key list of varKeys.
const maxVarKeys = 10

// varMap is a map variable of one event (proc, file, ...) as a CEL map
// whose values are computed when a rule first reads them: an event's rules
// read a few keys of a few variables, and building every map in full cost
// more than evaluating the rules.
type varMap struct {
	in   *Input
	kind varKind
	vals [maxVarKeys]ref.Val
}

var _ traits.Mapper = (*varMap)(nil)

func (m *varMap) keys() []string { return varKeys[m.kind] }

// at returns the value of key i.
func (m *varMap) at(i int) ref.Val {
	if v := m.vals[i]; v != nil {
		return v
	}
	v := m.compute(i)
	m.vals[i] = v
	return v
}

func (m *varMap) compute(i int) ref.Val {
	e, at, p := m.in.Event, m.in.Attribution, &m.in.Process
	switch m.kind {
	case varProc:
		switch i {
		case 0:
			return types.String(e.Comm)
		case 1:
			return types.String(p.Exe)
		case 2:
			return types.String(path.Base(p.Exe))
		case 3:
			return stringList(p.Args)
		case 4:
			return types.String(strings.Join(p.Args, " "))
		case 5:
			m.in.readPID = true
			return types.Int(e.PID)
		case 6:
			m.in.readPID = true
			return types.Int(e.PPID)
		case 7:
			return types.Int(e.UID)
		case 8:
			return types.Int(e.GID)
		case 9:
			return types.String(e.ParentComm)
		}
	case varFile:
		open := e.Kind == KindOpen
		switch i {
		case 0:
			if open {
				return types.String(e.Path)
			}
			return types.String("")
		case 1:
			return types.Bool(open && e.Write())
		case 2:
			return types.Int(e.Flags)
		}
	case varNet:
		switch i {
		case 0:
			if e.Addr.IsValid() {
				return types.String(e.Addr.String())
			}
			return types.String("")
		case 1:
			return types.Int(e.Port)
		case 2:
			switch {
			case !e.Addr.IsValid():
				return types.String("")
			case e.Addr.Is4():
				return types.String("ipv4")
			}
			return types.String("ipv6")
		}
	case varPtrace:
		switch i {
		case 0:
			switch {
			case e.Kind != KindPtrace:
				return types.String("")
			case e.Flags == 0x4206:
				return types.String("seize")
			}
			return types.String("attach")
		case 1:
			return types.Int(e.Arg)
		}
	case varContainer:
		switch i {
		case 0:
			return types.Bool(at.Container.Host())
		case 1:
			return types.String(at.Container.ID)
		case 2:
			return types.String(at.Container.Runtime)
		case 3:
			return types.String(at.ContainerName)
		case 4:
			return types.String(at.Image)
		case 5:
			return types.String(at.ImageID)
		}
	case varPod:
		pod := at.Pod
		switch i {
		case 2:
			return types.String(at.Container.PodUID)
		case 0:
			if pod != nil {
				return types.String(pod.Name)
			}
		case 1:
			if pod != nil {
				return types.String(pod.Namespace)
			}
		case 3:
			if pod != nil {
				return types.String(pod.ServiceAccount)
			}
		}
		return types.String("")
	case varCluster:
		return stringList(m.in.APIServers)
	}
	return types.NewErr("no such key")
}

func stringList(s []string) ref.Val {
	if s == nil {
		s = []string{}
	}
	return types.NewStringList(types.DefaultTypeAdapter, s)
}

// index returns key's slot, -1 when the map has no such key.
func (m *varMap) index(key ref.Val) int {
	k, ok := key.(types.String)
	if !ok {
		return -1
	}
	for i, name := range m.keys() {
		if name == string(k) {
			return i
		}
	}
	return -1
}

// Find implements traits.Mapper.
func (m *varMap) Find(key ref.Val) (ref.Val, bool) {
	if types.IsUnknownOrError(key) {
		return key, false
	}
	i := m.index(key)
	if i < 0 {
		return nil, false
	}
	return m.at(i), true
}

// Get implements traits.Indexer.
func (m *varMap) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (m *varMap) Contains(key ref.Val) ref.Val { return types.Bool(m.index(key) >= 0) }

// Size implements traits.Sizer.
func (m *varMap) Size() ref.Val { return types.Int(len(m.keys())) }

// full is the map with every value computed, for the operations rules
// rarely use (iteration, comparison, conversion).
func (m *varMap) full() traits.Mapper {
	keys := m.keys()
	out := make(map[ref.Val]ref.Val, len(keys))
	for i, k := range keys {
		out[types.String(k)] = m.at(i)
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

// Iterator implements traits.Iterable.
func (m *varMap) Iterator() traits.Iterator { return m.full().Iterator() }

// ConvertToNative implements ref.Val.
func (m *varMap) ConvertToNative(t reflect.Type) (any, error) { return m.full().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (m *varMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return m.full().ConvertToType(t)
}

// Equal implements ref.Val.
func (m *varMap) Equal(other ref.Val) ref.Val { return m.full().Equal(other) }

// Type implements ref.Val.
func (m *varMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *varMap) Value() any { return m.full().Value() }
