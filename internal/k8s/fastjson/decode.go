package fastjson

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays a Decoder accepts,
// the limit of sigs.k8s.io/json.
const MaxDepth = 10000

// Bounds of the intern tables.
const (
	maxKeys      = 4096 // interned object keys
	valueSlots   = 1024 // slots of the short-string cache (a power of two)
	maxCachedLen = 32   // longest string value the cache holds
)

// SyntaxError is a JSON input a Decoder rejects.
type SyntaxError struct {
	// Offset is the byte offset in the input where the error was found.
	Offset int64
	// Msg says what is wrong, on one line.
	Msg string
}

// Error renders the error on one line with its byte offset.
func (e *SyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// Decoder decodes JSON documents. A Decoder may be reused for many
// documents, and should be: its intern tables carry over. It is not safe
// for concurrent use.
type Decoder struct {
	data  []byte
	pos   int
	depth int

	keys map[string]string   // interned object keys
	vals *[valueSlots]string // direct-mapped cache of short string values
	kvs  []kv                // pending members of the objects being decoded
	arr  []any               // pending elements of the arrays being decoded
	buf  []byte              // unescaped string being built
}

type kv struct {
	k string
	v any
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{keys: make(map[string]string, 256), vals: new([valueSlots]string)}
}

// Decode decodes one JSON document (surrounded by whitespace at most) into
// the value sigs.k8s.io/json.UnmarshalCaseSensitivePreserveInts stores in
// an any.
func (d *Decoder) Decode(data []byte) (any, error) {
	d.start(data)
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// List is what a Kubernetes LIST response carries for a scanner.
type List struct {
	// APIVersion is the list's apiVersion.
	APIVersion string
	// Kind is the list's kind ("PodList").
	Kind string
	// Continue is metadata.continue: the token of the next page, or "".
	Continue string
	// ResourceVersion is metadata.resourceVersion.
	ResourceVersion string
	// Items are the objects, as decoded by Decode. Items lacking kind and
	// apiVersion keep lacking them (unlike client-go, which sets them from
	// the list's): the caller knows what it listed.
	Items []map[string]any
}

// DecodeList decodes a LIST response: a JSON object whose "items" is an
// array of objects (or null, or absent). Its other members are checked and
// dropped, but for kind, apiVersion and metadata's continue and
// resourceVersion.
func (d *Decoder) DecodeList(data []byte) (List, error) {
	var l List
	d.start(data)
	d.skipSpace()
	if d.pos >= len(d.data) {
		return l, d.eof()
	}
	if d.data[d.pos] != '{' {
		return l, d.errf("a list must be a JSON object, found %s", d.found())
	}
	d.pos++
	d.depth++
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return l, d.end()
	}
	for {
		if d.peek() != '"' {
			return l, d.errf("invalid character %s looking for beginning of object key string", d.found())
		}
		k, err := d.key()
		if err != nil {
			return l, err
		}
		if err := d.colon(); err != nil {
			return l, err
		}
		switch k {
		case "items":
			items, err := d.items()
			if err != nil {
				return l, err
			}
			l.Items = items
		case "metadata":
			v, err := d.value()
			if err != nil {
				return l, err
			}
			md, _ := v.(map[string]any)
			l.Continue, _ = md["continue"].(string)
			l.ResourceVersion, _ = md["resourceVersion"].(string)
		default:
			v, err := d.value()
			if err != nil {
				return l, err
			}
			switch k {
			case "kind":
				l.Kind, _ = v.(string)
			case "apiVersion":
				l.APIVersion, _ = v.(string)
			}
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
			d.skipSpace()
			continue
		case '}':
			d.pos++
			return l, d.end()
		}
		if d.pos >= len(d.data) {
			return l, d.eof()
		}
		return l, d.errf("invalid character %s after object key:value pair", d.found())
	}
}

// items decodes the value of a list's "items": null or an array of objects.
func (d *Decoder) items() ([]map[string]any, error) {
	switch d.peek() {
	case 'n':
		_, err := d.value()
		return nil, err
	case '[':
	default:
		if d.pos >= len(d.data) {
			return nil, d.eof()
		}
		return nil, d.errf("items must be an array, found %s", d.found())
	}
	d.pos++
	d.depth++
	var out []map[string]any
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return []map[string]any{}, nil
	}
	for {
		if d.peek() != '{' {
			if d.pos >= len(d.data) {
				return nil, d.eof()
			}
			return nil, d.errf("item %d must be an object, found %s", len(out), d.found())
		}
		m, err := d.object()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
			d.skipSpace()
			continue
		case ']':
			d.pos++
			d.depth--
			return out, nil
		}
		if d.pos >= len(d.data) {
			return nil, d.eof()
		}
		return nil, d.errf("invalid character %s after array element", d.found())
	}
}

func (d *Decoder) start(data []byte) {
	if d.keys == nil {
		d.keys = make(map[string]string, 256)
		d.vals = new([valueSlots]string)
	}
	d.data, d.pos, d.depth = data, 0, 0
	clear(d.kvs)
	d.kvs = d.kvs[:0]
	clear(d.arr)
	d.arr = d.arr[:0]
}

// end checks that only whitespace follows the top-level value and lets go
// of the input.
func (d *Decoder) end() error {
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.errf("invalid character %s after top-level value", d.found())
	}
	d.data = nil
	return nil
}

func (d *Decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// found quotes the byte at the current offset for an error message.
func (d *Decoder) found() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	c := d.data[d.pos]
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func (d *Decoder) errf(format string, arg ...any) error {
	return &SyntaxError{Offset: int64(d.pos), Msg: fmt.Sprintf(format, arg...)}
}

func (d *Decoder) eof() error {
	return &SyntaxError{Offset: int64(len(d.data)), Msg: "unexpected end of JSON input"}
}

// value decodes the value at the current offset (whitespace skipped).
func (d *Decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.eof()
	}
	switch c := d.data[d.pos]; c {
	case '{':
		m, err := d.object()
		if err != nil {
			return nil, err
		}
		return m, nil
	case '[':
		return d.array()
	case '"':
		b, err := d.str()
		if err != nil {
			return nil, err
		}
		return d.intern(b), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.errf("invalid character %s looking for beginning of value", d.found())
	}
}

func (d *Decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) {
			return d.eof()
		}
		if d.data[d.pos] != lit[i] {
			return d.errf("invalid character %s in literal %s", d.found(), lit)
		}
		d.pos++
	}
	return nil
}

func (d *Decoder) colon() error {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return d.eof()
	}
	if d.data[d.pos] != ':' {
		return d.errf("invalid character %s after object key", d.found())
	}
	d.pos++
	d.skipSpace()
	return nil
}

// object decodes the object at the current offset ('{'). Its members are
// collected on d.kvs first, so that the map is made at its final size.
func (d *Decoder) object() (map[string]any, error) {
	d.depth++
	if d.depth > MaxDepth {
		return nil, d.errf("exceeded max depth")
	}
	d.pos++
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, nil
	}
	base := len(d.kvs)
	for {
		if d.peek() != '"' {
			if d.pos >= len(d.data) {
				return nil, d.eof()
			}
			return nil, d.errf("invalid character %s looking for beginning of object key string", d.found())
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		if err := d.colon(); err != nil {
			return nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.kvs = append(d.kvs, kv{k, v})
		d.skipSpace()
		if d.pos < len(d.data) {
			c := d.data[d.pos]
			if c == ',' {
				d.pos++
				d.skipSpace()
				continue
			}
			if c == '}' {
				d.pos++
				break
			}
			return nil, d.errf("invalid character %s after object key:value pair", d.found())
		}
		return nil, d.eof()
	}
	members := d.kvs[base:]
	m := make(map[string]any, len(members))
	for _, e := range members {
		m[e.k] = e.v
	}
	clear(members)
	d.kvs = d.kvs[:base]
	d.depth--
	return m, nil
}

// array decodes the array at the current offset ('['), collecting its
// elements on d.arr first.
func (d *Decoder) array() (any, error) {
	d.depth++
	if d.depth > MaxDepth {
		return nil, d.errf("exceeded max depth")
	}
	d.pos++
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return []any{}, nil
	}
	base := len(d.arr)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.arr = append(d.arr, v)
		d.skipSpace()
		if d.pos < len(d.data) {
			c := d.data[d.pos]
			if c == ',' {
				d.pos++
				d.skipSpace()
				continue
			}
			if c == ']' {
				d.pos++
				break
			}
			return nil, d.errf("invalid character %s after array element", d.found())
		}
		return nil, d.eof()
	}
	elems := d.arr[base:]
	out := make([]any, len(elems))
	copy(out, elems)
	clear(elems)
	d.arr = d.arr[:base]
	d.depth--
	return out, nil
}

// key decodes an object key, interned.
func (d *Decoder) key() (string, error) {
	b, err := d.str()
	if err != nil {
		return "", err
	}
	if s, ok := d.keys[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(d.keys) < maxKeys {
		d.keys[s] = s
	}
	return s, nil
}

// intern returns b as a string, shared with an earlier equal string when
// the short-string cache holds one.
func (d *Decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxCachedLen {
		return string(b)
	}
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &d.vals[h&(valueSlots-1)]
	if *slot == string(b) {
		return *slot
	}
	s := string(b)
	*slot = s
	return s
}

// plain marks the bytes a string holds as they are: printable ASCII but the
// quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str decodes the string at the current offset ('"') and returns its
// bytes: a slice of the input when it needs no change, else of d.buf
// (valid until the next call).
func (d *Decoder) str() ([]byte, error) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) && plain[data[i]] {
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		return data[start:i], nil
	}
	buf := append(d.buf[:0], data[start:i]...)
	for {
		if i >= len(data) {
			d.buf = buf
			return nil, d.eof()
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = buf
			return buf, nil
		case c == '\\':
			if i+1 >= len(data) {
				d.buf = buf
				return nil, d.eof()
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
				i += 2
			case 'b':
				buf = append(buf, '\b')
				i += 2
			case 'f':
				buf = append(buf, '\f')
				i += 2
			case 'n':
				buf = append(buf, '\n')
				i += 2
			case 'r':
				buf = append(buf, '\r')
				i += 2
			case 't':
				buf = append(buf, '\t')
				i += 2
			case 'u':
				r, n := hex4(data[i+2:])
				if n < 4 {
					d.buf = buf
					if i+2+n >= len(data) {
						return nil, d.eof()
					}
					d.pos = i + 2 + n
					return nil, d.errf("invalid character %s in \\u hexadecimal character escape", d.found())
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r1 := rune(-1)
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						if v, n := hex4(data[i+2:]); n == 4 {
							r1 = v
						}
					}
					if dec := utf16.DecodeRune(r, r1); dec != unicode.ReplacementChar {
						i += 6
						buf = utf8.AppendRune(buf, dec)
						continue
					}
					r = unicode.ReplacementChar
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.buf = buf
				d.pos = i + 1
				return nil, d.errf("invalid character %s in string escape code", d.found())
			}
		case c < 0x20:
			d.buf = buf
			d.pos = i
			return nil, d.errf("invalid character %s in string literal", d.found())
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, unicode.ReplacementChar)
			} else {
				buf = append(buf, data[i:i+size]...)
			}
			i += size
		}
	}
}

// hex4 decodes up to 4 hexadecimal digits at the start of b and returns
// their value and how many there were.
func hex4(b []byte) (rune, int) {
	var r rune
	for n := range 4 {
		if n >= len(b) {
			return r, n
		}
		c := b[n]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return r, n
		}
		r = r*16 + rune(c)
	}
	return r, 4
}

// number decodes the number at the current offset: an int64 when it has
// neither fraction nor exponent and fits, else a float64.
func (d *Decoder) number() (any, error) {
	data := d.data
	start := d.pos
	i := start
	neg := false
	if data[i] == '-' {
		neg = true
		i++
	}
	if i >= len(data) {
		d.pos = i
		return nil, d.eof()
	}
	var u uint64
	digits := 0
	switch c := data[i]; {
	case c == '0':
		i++
		digits = 1
	case c >= '1' && c <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			u = u*10 + uint64(data[i]-'0')
			i++
			digits++
		}
	default:
		d.pos = i
		return nil, d.errf("invalid character %s in numeric literal", d.found())
	}
	isInt := true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		if i >= len(data) {
			d.pos = i
			return nil, d.eof()
		}
		if data[i] < '0' || data[i] > '9' {
			d.pos = i
			return nil, d.errf("invalid character %s after decimal point in numeric literal", d.found())
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) {
			d.pos = i
			return nil, d.eof()
		}
		if data[i] < '0' || data[i] > '9' {
			d.pos = i
			return nil, d.errf("invalid character %s in exponent of numeric literal", d.found())
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	if isInt {
		if digits <= 18 {
			n := int64(u)
			if neg {
				n = -n
			}
			return n, nil
		}
		if n, err := strconv.ParseInt(string(data[start:i]), 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(string(data[start:i]), 64)
	if err != nil {
		d.pos = start
		num := string(data[start:i])
		if len(num) > 40 {
			num = num[:40] + "…"
		}
		return nil, d.errf("number %s out of range", num)
	}
	return f, nil
}
