package json

import (
	"strconv"
	"unicode/utf8"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// findingEncoder appends findings exactly as encoding/json encodes them with
// prefix "    ", indent "  " and HTML escaping off, without reflection. The
// strings that repeat across findings (control, title, severity, status,
// remediation, kinds, namespaces, files) are escaped once and cached.
// TestFindingEncoderMatchesEncodingJSON and FuzzFindingEncoder hold it to
// encoding/json's output; a field added to report.Finding, k8s.Ref,
// k8s.Source, report.Exception or report.Evidence must be added here too (the test fails
// until it is).
type findingEncoder struct {
	cache map[string][]byte
}

func newFindingEncoder() *findingEncoder {
	return &findingEncoder{cache: map[string][]byte{}}
}

// Indentation of the fields of a finding, and of its nested objects.
const (
	fieldIndent  = "\n      "
	nestedIndent = "\n        "
)

// appendFinding appends f as one array item's value, starting at '{'.
func (e *findingEncoder) appendFinding(b []byte, f *report.Finding) []byte {
	b = append(b, '{')
	b = e.field(b, fieldIndent, "control", f.Control, true)
	b = e.field(b, fieldIndent, "title", f.Title, false)
	b = e.field(b, fieldIndent, "severity", f.Severity, false)
	b = e.field(b, fieldIndent, "status", f.Status, false)
	b = append(b, ","+fieldIndent+`"object": {`...)
	b = appendRef(e, b, &f.Object)
	b = append(b, fieldIndent+"}"...)
	if f.Container != "" {
		b = e.field(b, fieldIndent, "container", f.Container, false)
	}
	if f.Path != "" {
		b = e.field(b, fieldIndent, "path", f.Path, false)
	}
	b = append(b, ","+fieldIndent+`"source": {`...)
	b = appendSource(e, b, &f.Source)
	b = append(b, fieldIndent+"}"...)
	b = e.field(b, fieldIndent, "message", f.Message, false)
	b = e.field(b, fieldIndent, "remediation", f.Remediation, false)
	if x := f.Exception; x != nil {
		b = append(b, ","+fieldIndent+`"exception": {`...)
		b = e.field(b, nestedIndent, "source", x.Source, true)
		if x.Reason != "" {
			b = e.field(b, nestedIndent, "reason", x.Reason, false)
		}
		if x.Expires != "" {
			b = e.field(b, nestedIndent, "expires", x.Expires, false)
		}
		if x.Expired {
			b = append(b, ","+nestedIndent+`"expired": true`...)
		}
		b = append(b, fieldIndent+"}"...)
	}
	if x := f.Evidence; x != nil {
		b = append(b, ","+fieldIndent+`"evidence": {`...)
		first := true
		if x.Value != "" {
			b = e.field(b, nestedIndent, "value", x.Value, true)
			first = false
		}
		b = e.field(b, nestedIndent, "origin", x.Origin, first)
		if x.Location != "" {
			b = e.field(b, nestedIndent, "location", x.Location, false)
		}
		b = append(b, fieldIndent+"}"...)
	}
	return append(b, "\n    }"...)
}

func appendRef(e *findingEncoder, b []byte, r *k8s.Ref) []byte {
	b = e.field(b, nestedIndent, "apiVersion", r.APIVersion, true)
	b = e.field(b, nestedIndent, "kind", r.Kind, false)
	b = e.field(b, nestedIndent, "namespace", r.Namespace, false)
	return e.field(b, nestedIndent, "name", r.Name, false)
}

func appendSource(e *findingEncoder, b []byte, s *k8s.Source) []byte {
	b = e.field(b, nestedIndent, "file", s.File, true)
	if s.Line != 0 {
		b = append(b, ","+nestedIndent+`"line": `...)
		b = strconv.AppendInt(b, int64(s.Line), 10)
	}
	for _, kv := range [...]struct{ k, v string }{
		{"origin", s.Origin}, {"cluster", s.Cluster}, {"server", s.Server}, {"resourceVersion", s.ResourceVersion},
	} {
		if kv.v != "" {
			b = e.field(b, nestedIndent, kv.k, kv.v, false)
		}
	}
	return b
}

// field appends `"key": "value"` on a new line, after a comma unless first.
func (e *findingEncoder) field(b []byte, indent, key, value string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, indent...)
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `": `...)
	return e.str(b, value)
}

// maxCached bounds the length of the strings kept in the cache, and
// maxCacheEntries the cache itself; messages and paths vary and are not
// worth keeping.
const (
	maxCached       = 4096
	maxCacheEntries = 4096
)

// str appends the JSON encoding of s, from the cache when s repeats.
func (e *findingEncoder) str(b []byte, s string) []byte {
	if enc, ok := e.cache[s]; ok {
		return append(b, enc...)
	}
	start := len(b)
	b = appendString(b, s)
	if len(s) <= maxCached && len(e.cache) < maxCacheEntries {
		e.cache[s] = append([]byte(nil), b[start:]...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: control characters, quotes and backslashes escaped,
// invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
