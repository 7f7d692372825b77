package fastjson

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode holds Decode to sigs.k8s.io/json on any input: no panic; the
// same value (reflect.DeepEqual) when sigs.k8s.io/json accepts the input;
// a one-line *SyntaxError within the input when it rejects it. DecodeList
// is held to the same: what it accepts sigs.k8s.io/json accepts, with the
// same items.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1","continue":"x"},"items":[{"metadata":{"name":"a","labels":{"app":"web"}},"spec":{"replicas":3,"x":1.5}}]}`,
		`[1,-0,1e3,1.5E-3,9223372036854775808,-9223372036854775809,1e400]`,
		`"\ud83d\ude00\ud83d\u0041\ude00\u00e9\/"`,
		"\"\xff\xed\xa0\x80\"",
		`{"a":1,"a":2}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		`{"items":null}`,
		` true `, `false`, `null`, `0`, `-`, `01`, `{"a" 1}`,
	} {
		f.Add([]byte(s))
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, refErr := reference(data)
		got, err := d.Decode(data)
		switch {
		case refErr == nil && err != nil:
			t.Fatalf("Decode rejects what sigs.k8s.io/json accepts: %v", err)
		case refErr != nil && err == nil:
			t.Fatalf("Decode accepts what sigs.k8s.io/json rejects (%v): %#v", refErr, got)
		case err != nil:
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > int64(len(data)) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q (offset out of the input, or not one line)", err)
			}
		case !reflect.DeepEqual(got, ref):
			t.Fatalf("Decode = %#v, sigs.k8s.io/json = %#v", got, ref)
		}
		l, err := d.DecodeList(data)
		if err != nil {
			return
		}
		m, ok := ref.(map[string]any)
		if refErr != nil || !ok {
			t.Fatalf("DecodeList accepts what sigs.k8s.io/json rejects (%v) or is no object", refErr)
		}
		items, _ := m["items"].([]any)
		if len(items) != len(l.Items) {
			t.Fatalf("DecodeList has %d items, want %d", len(l.Items), len(items))
		}
		for i := range items {
			if !reflect.DeepEqual(items[i], l.Items[i]) {
				t.Fatalf("item %d = %#v, want %#v", i, l.Items[i], items[i])
			}
		}
	})
}
