package k8s

import (
	"strconv"
	"strings"
)

// Map returns m[key] as a map, or nil.
func Map(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	v, _ := m[key].(map[string]any)
	return v
}

// Slice returns m[key] as a slice, or nil.
func Slice(m map[string]any, key string) []any {
	if m == nil {
		return nil
	}
	v, _ := m[key].([]any)
	return v
}

// Str returns m[key] as a string, or "" when absent or not a string.
func Str(m map[string]any, key string) string {
	if m == nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}

// Bool returns m[key] as a bool and whether it was set to a bool.
func Bool(m map[string]any, key string) (value, ok bool) {
	if m == nil {
		return false, false
	}
	v, ok := m[key].(bool)
	return v, ok
}

// Int returns m[key] as an int64 and whether it was set to a number.
func Int(m map[string]any, key string) (int64, bool) {
	if m == nil {
		return 0, false
	}
	switch v := m[key].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Has reports whether key is present in m (even with a null value).
func Has(m map[string]any, key string) bool {
	if m == nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// StringMap returns m[key] as map[string]string, dropping non-string values.
func StringMap(m map[string]any, key string) map[string]string {
	src := Map(m, key)
	if len(src) == 0 {
		return nil
	}
	out := make(map[string]string, len(src))
	for k, v := range src {
		switch s := v.(type) {
		case string:
			out[k] = s
		case bool:
			out[k] = strconv.FormatBool(s)
		case int64:
			out[k] = strconv.FormatInt(s, 10)
		}
	}
	return out
}

// Strings returns m[key] as a []string, dropping non-string items.
func Strings(m map[string]any, key string) []string {
	items := Slice(m, key)
	if len(items) == 0 {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// NameSet returns the set of the names in items, trimmed, blanks left out
// (namespace, user and group lists from flags and configuration).
func NameSet(items []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}
