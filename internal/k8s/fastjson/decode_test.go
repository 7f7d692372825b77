package fastjson

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// reference decodes data as client-go's unstructured decoding does.
func reference(data []byte) (any, error) {
	var v any
	err := utiljson.Unmarshal(data, &v)
	return v, err
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    any
		wantErr string // substring of the error; "" for success
	}{
		{name: "empty object", in: `{}`, want: map[string]any{}},
		{name: "empty array is not nil", in: `[]`, want: []any{}},
		{name: "nested", in: ` {"a": [1, "x", true, false, null, {"b": []}]} `, want: map[string]any{"a": []any{int64(1), "x", true, false, nil, map[string]any{"b": []any{}}}}},
		{name: "null", in: `null`, want: nil},
		{name: "string", in: `"v1"`, want: "v1"},
		{name: "small int", in: `42`, want: int64(42)},
		{name: "negative int", in: `-42`, want: int64(-42)},
		{name: "minus zero is int64 zero", in: `-0`, want: int64(0)},
		{name: "minus zero float", in: `-0.0`, want: math.Copysign(0, -1)},
		{name: "max int64", in: `9223372036854775807`, want: int64(math.MaxInt64)},
		{name: "min int64", in: `-9223372036854775808`, want: int64(math.MinInt64)},
		{name: "2^63 is a float", in: `9223372036854775808`, want: float64(1 << 63)},
		{name: "huge integer is a float", in: `100000000000000000000`, want: 1e20},
		{name: "19 digits that fit", in: `1000000000000000000`, want: int64(1e18)},
		{name: "exponent without point is a float", in: `1e3`, want: float64(1000)},
		{name: "capital exponent", in: `2E+2`, want: float64(200)},
		{name: "negative exponent", in: `5e-1`, want: 0.5},
		{name: "fraction", in: `1.0`, want: 1.0},
		{name: "underflow is zero", in: `1e-400`, want: 0.0},
		{name: "overflow", in: `1e400`, wantErr: "out of range"},
		{name: "overflow in an object", in: `{"a":-1e999}`, wantErr: "out of range"},
		{name: "duplicate key, last wins", in: `{"a":1,"b":2,"a":3}`, want: map[string]any{"a": int64(3), "b": int64(2)}},
		{name: "escapes", in: `"\"\\\/\b\f\n\r\t"`, want: "\"\\/\b\f\n\r\t"},
		{name: "unicode escape", in: `"\u00e9\u4e2D"`, want: "é中"},
		{name: "surrogate pair", in: `"\ud83d\ude00"`, want: "😀"},
		{name: "lone high surrogate", in: `"\ud83dx"`, want: "\uFFFDx"},
		{name: "lone low surrogate", in: `"\ude00"`, want: "\uFFFD"},
		{name: "high surrogate then non-surrogate escape", in: `"\ud83d\u0041"`, want: "\uFFFDA"},
		{name: "two high surrogates", in: `"\ud83d\ud83d\ude00"`, want: "\uFFFD😀"},
		{name: "invalid UTF-8 replaced byte by byte", in: "\"a\xff\xfeb\"", want: "a\uFFFD\uFFFDb"},
		{name: "UTF-8 encoded surrogate is invalid", in: "\"\xed\xa0\x80\"", want: "\uFFFD\uFFFD\uFFFD"},
		{name: "valid UTF-8 kept", in: "\"h\u00e9llo \u2028\"", want: "h\u00e9llo \u2028"},
		{name: "invalid UTF-8 in a key", in: "{\"k\xff\":1}", want: map[string]any{"k\uFFFD": int64(1)}},
		{name: "escaped key", in: `{"a\u0062":1}`, want: map[string]any{"ab": int64(1)}},
		{name: "depth 10000", in: strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), want: nest(MaxDepth)},
		{name: "depth 10001", in: strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), wantErr: "exceeded max depth"},
		{name: "deep objects", in: strings.Repeat(`{"a":`, MaxDepth+1) + "0" + strings.Repeat("}", MaxDepth+1), wantErr: "exceeded max depth"},
		{name: "empty input", in: ``, wantErr: "unexpected end"},
		{name: "only space", in: " \n\t\r", wantErr: "unexpected end"},
		{name: "trailing garbage", in: `{} x`, wantErr: "after top-level value"},
		{name: "two values", in: `1 2`, wantErr: "after top-level value"},
		{name: "leading zero", in: `01`, wantErr: "after top-level value"},
		{name: "plus sign", in: `+1`, wantErr: "beginning of value"},
		{name: "lone minus", in: `-`, wantErr: "unexpected end"},
		{name: "point without digits", in: `1.`, wantErr: "unexpected end"},
		{name: "point then letter", in: `1.e3`, wantErr: "after decimal point"},
		{name: "exponent without digits", in: `1e+`, wantErr: "unexpected end"},
		{name: "trailing comma in array", in: `[1,]`, wantErr: "beginning of value"},
		{name: "trailing comma in object", in: `{"a":1,}`, wantErr: "object key string"},
		{name: "missing colon", in: `{"a" 1}`, wantErr: "after object key"},
		{name: "unquoted key", in: `{a:1}`, wantErr: "object key string"},
		{name: "single quotes", in: `'a'`, wantErr: "beginning of value"},
		{name: "control character in string", in: "\"a\nb\"", wantErr: "in string literal"},
		{name: "bad escape", in: `"\x"`, wantErr: "escape code"},
		{name: "short unicode escape", in: `"\u12"`, wantErr: "hexadecimal"},
		{name: "unterminated string", in: `"abc`, wantErr: "unexpected end"},
		{name: "bad literal", in: `tru`, wantErr: "unexpected end"},
		{name: "misspelled literal", in: `nul1`, wantErr: "in literal null"},
		{name: "NaN", in: `NaN`, wantErr: "beginning of value"},
		{name: "byte order mark", in: "\xef\xbb\xbf{}", wantErr: "beginning of value"},
		{name: "unclosed array", in: `[1`, wantErr: "unexpected end"},
		{name: "unclosed object", in: `{"a":1`, wantErr: "unexpected end"},
	}
	d := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, refErr := reference([]byte(tt.in))
			got, err := d.Decode([]byte(tt.in))
			if tt.wantErr != "" {
				var se *SyntaxError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &se) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Decode(%.40q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				if refErr == nil {
					t.Fatalf("sigs.k8s.io/json accepts %.40q", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%.40q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode(%.40q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if refErr != nil || !reflect.DeepEqual(got, ref) {
				t.Fatalf("Decode(%.40q) = %#v; sigs.k8s.io/json gives %#v, %v", tt.in, got, ref, refErr)
			}
			if f, ok := tt.want.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
				t.Fatalf("sign of %v lost", f)
			}
		})
	}
}

// nest returns n nested empty arrays.
func nest(n int) any {
	var v any = []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

func TestDecodeReusesDecoder(t *testing.T) {
	d := NewDecoder()
	if _, err := d.Decode([]byte(`{"a":[1,{"b":`)); err == nil {
		t.Fatal("truncated input accepted")
	}
	got, err := d.Decode([]byte(`{"a":[1,{"b":"c"}],"d":"c"}`))
	want := map[string]any{"a": []any{int64(1), map[string]any{"b": "c"}}, "d": "c"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after an error: %#v, %v", got, err)
	}
}

func TestDecodeList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    List
		wantErr string
	}{
		{
			name: "page",
			in:   `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"tok"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"},"spec":{"n":1}}]}`,
			want: List{Kind: "PodList", APIVersion: "v1", ResourceVersion: "42", Continue: "tok", Items: []map[string]any{
				{"metadata": map[string]any{"name": "a"}},
				{"metadata": map[string]any{"name": "b"}, "spec": map[string]any{"n": int64(1)}},
			}},
		},
		{name: "last page", in: `{"kind":"PodList","metadata":{"resourceVersion":"42"},"items":[]}`, want: List{Kind: "PodList", ResourceVersion: "42", Items: []map[string]any{}}},
		{name: "null items", in: `{"items":null}`, want: List{}},
		{name: "empty object", in: ` {} `, want: List{}},
		{name: "duplicate items, last wins", in: `{"items":[{"a":1}],"items":[{"b":2}]}`, want: List{Items: []map[string]any{{"b": int64(2)}}}},
		{name: "duplicate metadata, last wins", in: `{"metadata":{"continue":"x"},"metadata":{}}`, want: List{}},
		{name: "non-string continue", in: `{"metadata":{"continue":5}}`, want: List{}},
		{name: "not an object", in: `[]`, wantErr: "must be a JSON object"},
		{name: "items not an array", in: `{"items":"x"}`, wantErr: "must be an array"},
		{name: "item not an object", in: `{"items":[{},3]}`, wantErr: "item 1 must be an object"},
		{name: "truncated", in: `{"items":[{"a":1}`, wantErr: "unexpected end"},
		{name: "trailing garbage", in: `{"items":[]}]`, wantErr: "after top-level value"},
		{name: "bad member", in: `{"kind":"PodList","x":tru}`, wantErr: "in literal true"},
		{name: "deep item", in: `{"items":[` + strings.Repeat("[", MaxDepth) + `]}`, wantErr: "must be an object"},
		{name: "too deep in item", in: `{"items":[{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}]}`, wantErr: "exceeded max depth"},
	}
	d := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.DecodeList([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeList = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeList = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestSyntaxErrorOffset(t *testing.T) {
	_, err := NewDecoder().Decode([]byte(`{"a": [1, 2, x]}`))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 13 {
		t.Fatalf("error %v, want offset 13", err)
	}
	if want := "invalid JSON at byte 13: invalid character 'x' looking for beginning of value"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}
