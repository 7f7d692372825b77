// Package fastjson decodes JSON into the same Go values as client-go's
// unstructured decoding (k8s.io/apimachinery/pkg/util/json.Unmarshal, that
// is sigs.k8s.io/json.UnmarshalCaseSensitivePreserveInts, into an any), in
// one pass and without reflection. It exists for the cluster loader, which
// decodes every LIST page the API server sends: client-go's dynamic client
// scans a page five times or more (kind sniffing, validity checks, the list
// envelope, the raw items, then each item again) and grows every map one key
// at a time.
//
// The values are exactly those of sigs.k8s.io/json (a fuzz test holds the
// two to reflect.DeepEqual on any input both accept, and to rejecting the
// same inputs):
//
//   - objects are map[string]any (a duplicate key: the last value wins),
//     arrays []any (empty arrays are empty, not nil), strings string,
//     true/false bool, null nil;
//   - a number without "." that strconv.ParseInt accepts is an int64; any
//     other number is a float64 (so 1e3 is float64(1000), -0 is int64(0),
//     and 2^63 is a float64); a number out of float64's range is an error;
//   - invalid UTF-8 in strings becomes U+FFFD byte by byte, \u escapes are
//     decoded with surrogate pairs, and a lone surrogate becomes U+FFFD;
//   - containers nest at most 10,000 deep (the limit of sigs.k8s.io/json);
//     deeper input is an error, never a stack overflow.
//
// Errors are *SyntaxError values that name the byte offset, on one line.
//
// A Decoder interns object keys (the set is small and repeats across the
// items of a LIST) and short string values through a fixed-size cache, so
// both memory and the number of allocations stay bounded whatever the input.
package fastjson
