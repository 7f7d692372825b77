package k8s

import (
	"reflect"
	"testing"
)

// TestContentRoundTrip checks that retained content comes back with the
// types the decoders produce (int64, float64, string, bool, nil, maps and
// slices), whatever CBOR does with them on the way.
func TestContentRoundTrip(t *testing.T) {
	spec := map[string]any{
		"ports":    []any{map[string]any{"port": int64(80), "targetPort": "http"}, map[string]any{"port": int64(-1)}},
		"weight":   float64(0.5),
		"whole":    float64(3),
		"big":      int64(1) << 62,
		"flag":     true,
		"nothing":  nil,
		"selector": map[string]any{"app": "web"},
		"empty":    []any{},
	}
	obj := NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "n", "labels": map[string]any{"a": "b"}}, "spec": spec}, Source{})
	got := EntryFor(obj).Content()
	want := map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "n", "labels": map[string]any{"a": "b"}}, "spec": spec}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Content() = %#v\nwant %#v", got, want)
	}
}
