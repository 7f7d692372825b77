package auditlog

import (
	"fmt"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// userMap is the CEL value of user and impersonatedUser: a map with the
// keys username, uid, groups and extra, read from the event's UserInfo
// without building a Go map for every event.
type userMap struct{ u *UserInfo }

var userKeys = []string{"username", "uid", "groups", "extra"}

var _ traits.Mapper = userMap{}

func (m userMap) field(key string) (ref.Val, bool) {
	switch key {
	case "username":
		return types.String(m.u.Username), true
	case "uid":
		return types.String(m.u.UID), true
	case "groups":
		if len(m.u.Groups) == 0 {
			return emptyStrings, true
		}
		return types.NewStringList(types.DefaultTypeAdapter, m.u.Groups), true
	case "extra":
		if len(m.u.Extra) == 0 {
			return emptyMap, true
		}
		extra := make(map[string]any, len(m.u.Extra))
		for k, v := range m.u.Extra {
			extra[k] = v
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, extra), true
	}
	return nil, false
}

func (m userMap) asMap() traits.Mapper {
	out := map[string]any{}
	for _, k := range userKeys {
		v, _ := m.field(k)
		out[k] = v
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, out)
}

// Find implements traits.Mapper.
func (m userMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return m.field(string(k))
}

// Get implements traits.Indexer.
func (m userMap) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (m userMap) Contains(key ref.Val) ref.Val {
	_, ok := m.Find(key)
	return types.Bool(ok)
}

// Size implements traits.Sizer.
func (m userMap) Size() ref.Val { return types.Int(len(userKeys)) }

// Iterator implements traits.Iterable.
func (m userMap) Iterator() traits.Iterator { return m.asMap().Iterator() }

// ConvertToNative implements ref.Val.
func (m userMap) ConvertToNative(t reflect.Type) (any, error) { return m.asMap().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (m userMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t)
}

// Equal implements ref.Val.
func (m userMap) Equal(other ref.Val) ref.Val { return m.asMap().Equal(other) }

// Type implements ref.Val.
func (m userMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m userMap) Value() any { return m.asMap().Value() }

// String renders the map for messages.
func (m userMap) String() string { return fmt.Sprint(m.asMap().Value()) }
