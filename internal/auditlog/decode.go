package auditlog

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// The event decoder is hand-written: audit events are read at hundreds of
// thousands per second, and most of their bytes are request and response
// bodies that only a few rules read. It decodes the fields of Event and
// keeps requestObject, responseObject and annotations as raw JSON slices,
// found by a byte scan that only tracks strings and nesting. Unknown
// fields are skipped. FuzzDecodeEvent holds it to encoding/json.

var errSyntax = errors.New("invalid JSON")

type scanner struct {
	b []byte
	i int
	// alias lets raw values share the input's bytes (the caller keeps the
	// input alive and unchanged as long as the event).
	alias bool
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and the byte c.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	s.ws()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// str reads a string.
func (s *scanner) str() (string, error) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", s.fail("expected a string")
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		for j < len(s.b) && !strStop[s.b[j]] {
			j++
		}
		if j >= len(s.b) {
			break
		}
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			if !utf8.Valid(s.b[start:j]) {
				return string([]rune(string(s.b[start:j]))), nil
			}
			return string(s.b[start:j]), nil
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return "", s.fail("control character in string")
		}
	}
	return "", s.fail("unterminated string")
}

// escaped reads a string with escapes starting at start (after the quote).
func (s *scanner) escaped(start int) (string, error) {
	end, err := stringEnd(s.b, start)
	if err != nil {
		s.i = start
		return "", s.fail(err.Error())
	}
	v, err := strconv.Unquote(string(s.b[start-1 : end+1]))
	if err != nil {
		// JSON escapes Go does not know: \/ ; surrogate pairs are handled by
		// Unquote. Fall back to a manual pass for \/.
		v, err = unquoteJSON(s.b[start:end])
		if err != nil {
			s.i = start
			return "", s.fail("bad escape")
		}
	}
	s.i = end + 1
	return v, nil
}

// stringEnd returns the index of the quote closing a string whose content
// starts at start.
// strStop marks the bytes that end the plain run of a JSON string: the
// closing quote, a backslash and control characters.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func stringEnd(b []byte, start int) (int, error) {
	for j := start; j < len(b); j++ {
		for j < len(b) && !strStop[b[j]] { // most bytes: one table load
			j++
		}
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '\\':
			j++
		case c == '"':
			return j, nil
		case c < 0x20:
			return 0, errors.New("control character in string")
		}
	}
	return 0, errors.New("unterminated string")
}

func unquoteJSON(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for j := 0; j < len(b); j++ {
		if b[j] != '\\' {
			out = append(out, b[j])
			continue
		}
		j++
		if j >= len(b) {
			return "", errSyntax
		}
		switch b[j] {
		case '"', '\\', '/':
			out = append(out, b[j])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if j+4 >= len(b) {
				return "", errSyntax
			}
			r, err := strconv.ParseUint(string(b[j+1:j+5]), 16, 32)
			if err != nil {
				return "", errSyntax
			}
			j += 4
			rr := rune(r)
			if utf16Surrogate(rr) && j+6 < len(b) && b[j+1] == '\\' && b[j+2] == 'u' {
				if r2, err := strconv.ParseUint(string(b[j+3:j+7]), 16, 32); err == nil {
					if dec := decodeSurrogates(rr, rune(r2)); dec != utf8.RuneError {
						rr = dec
						j += 6
					}
				}
			}
			out = utf8.AppendRune(out, rr)
		default:
			return "", errSyntax
		}
	}
	return string(out), nil
}

func utf16Surrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

func decodeSurrogates(r1, r2 rune) rune {
	if r1 >= 0xd800 && r1 < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// skip skips one value and returns its bytes.
func (s *scanner) skip() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i >= len(s.b) {
		return nil, s.fail("unexpected end")
	}
	switch c := s.b[s.i]; c {
	case '"':
		end, err := stringEnd(s.b, s.i+1)
		if err != nil {
			return nil, s.fail(err.Error())
		}
		s.i = end + 1
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				end, err := stringEnd(s.b, s.i+1)
				if err != nil {
					return nil, s.fail(err.Error())
				}
				s.i = end
			case '{', '[':
				depth++
				if depth > 10000 {
					return nil, s.fail("nesting deeper than 10000")
				}
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return s.b[start:s.i], nil
				}
			}
			s.i++
		}
		return nil, s.fail("unterminated object or array")
	default:
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				goto done
			}
			s.i++
		}
	done:
		lit := s.b[start:s.i]
		if len(lit) == 0 || !validLiteral(lit) {
			return nil, s.fail("invalid literal")
		}
	}
	return s.b[start:s.i], nil
}

func validLiteral(b []byte) bool {
	switch string(b) {
	case "true", "false", "null":
		return true
	}
	_, err := strconv.ParseFloat(string(b), 64)
	return err == nil && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9'))
}

// object calls field for each key of an object (null is an empty object).
func (s *scanner) object(field func(key string) error) error {
	if s.null() {
		return nil
	}
	if !s.consume('{') {
		return s.fail("expected an object")
	}
	if s.consume('}') {
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if !s.consume(':') {
			return s.fail("expected ':'")
		}
		if err := field(key); err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return nil
		}
		return s.fail("expected ',' or '}'")
	}
}

// strs reads an array of strings (null is nil).
func (s *scanner) strs() ([]string, error) {
	if s.null() {
		return nil, nil
	}
	if !s.consume('[') {
		return nil, s.fail("expected an array")
	}
	out := []string{}
	if s.consume(']') {
		return out, nil
	}
	for {
		if s.peek() != '"' {
			return nil, s.fail("expected a string")
		}
		v, err := s.istr()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return out, nil
		}
		return nil, s.fail("expected ',' or ']'")
	}
}

// optStr reads a string, or null as "".
func (s *scanner) optStr() (string, error) {
	if s.null() {
		return "", nil
	}
	return s.str()
}

func (s *scanner) int32() (int32, error) {
	if s.null() {
		return 0, nil
	}
	lit, err := s.skip()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(lit), 10, 32)
	if err != nil {
		return 0, s.fail("expected a 32-bit integer")
	}
	return int32(n), nil
}

func (s *scanner) user(u *UserInfo) error {
	return s.object(func(k string) (err error) {
		switch k {
		case "username":
			u.Username, err = s.istr()
		case "uid":
			u.UID, err = s.optStr()
		case "groups":
			u.Groups, err = s.strs()
		case "extra":
			err = s.object(func(k string) error {
				v, err := s.strs()
				if err == nil {
					if u.Extra == nil {
						u.Extra = map[string][]string{}
					}
					u.Extra[k] = v
				}
				return err
			})
		default:
			_, err = s.skip()
		}
		return err
	})
}

func (s *scanner) objectRef(r *ObjectRef) error {
	return s.object(func(k string) (err error) {
		var dst *string
		switch k {
		case "resource":
			dst = &r.Resource
		case "namespace":
			dst = &r.Namespace
		case "name":
			dst = &r.Name
		case "uid":
			dst = &r.UID
		case "apiGroup":
			dst = &r.APIGroup
		case "apiVersion":
			dst = &r.APIVersion
		case "resourceVersion":
			dst = &r.ResourceVersion
		case "subresource":
			dst = &r.Subresource
		default:
			_, err = s.skip()
			return err
		}
		if k == "name" || k == "uid" || k == "resourceVersion" {
			*dst, err = s.optStr()
		} else {
			*dst, err = s.istr()
		}
		return err
	})
}

func (s *scanner) status(st *Status) error {
	return s.object(func(k string) (err error) {
		switch k {
		case "status":
			st.Status, err = s.istr()
		case "message":
			st.Message, err = s.optStr()
		case "reason":
			st.Reason, err = s.istr()
		case "code":
			st.Code, err = s.int32()
		default:
			_, err = s.skip()
		}
		return err
	})
}

// raw returns a value's bytes (nil for null), copied out of the input.
func (s *scanner) raw() ([]byte, error) {
	if s.null() {
		return nil, nil
	}
	b, err := s.skip()
	if err != nil || s.alias {
		return b, err
	}
	return append([]byte(nil), b...), nil
}

// istr reads a string of a field with few distinct values (verb, stage,
// resource, user agent...), interned to save an allocation per event.
func (s *scanner) istr() (string, error) {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		start := s.i + 1
		for j := start; j < len(s.b) && j-start <= maxInterned; j++ {
			c := s.b[j]
			if c == '"' {
				if !utf8.Valid(s.b[start:j]) {
					break
				}
				s.i = j + 1
				return intern(s.b[start:j]), nil
			}
			if c == '\\' || c < 0x20 {
				break
			}
		}
	}
	return s.optStr()
}

// Interned strings: a direct-mapped table of atomic pointers, so that
// concurrent decoders share it without locks; a collision replaces the
// slot.
const (
	internSlots = 1 << 12
	maxInterned = 128
)

var internTab [internSlots]atomic.Pointer[string]

func intern(b []byte) string {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &internTab[h&(internSlots-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	v := string(b)
	slot.Store(&v)
	return v
}

// decodeFast decodes one event into ev (which it resets).
func decodeFast(data []byte, ev *Event, alias bool) error {
	*ev = Event{}
	s := &scanner{b: data, alias: alias}
	err := s.object(func(k string) (err error) {
		switch k {
		case "level":
			ev.Level, err = s.istr()
		case "auditID":
			ev.AuditID, err = s.optStr()
		case "stage":
			ev.Stage, err = s.istr()
		case "requestURI":
			ev.RequestURI, err = s.optStr()
		case "verb":
			ev.Verb, err = s.istr()
		case "user":
			err = s.user(&ev.User)
		case "impersonatedUser":
			if s.null() {
				return nil
			}
			ev.ImpersonatedUser = &UserInfo{}
			err = s.user(ev.ImpersonatedUser)
		case "sourceIPs":
			ev.SourceIPs, err = s.strs()
		case "userAgent":
			ev.UserAgent, err = s.istr()
		case "objectRef":
			if s.null() {
				return nil
			}
			ev.ObjectRef = &ObjectRef{}
			err = s.objectRef(ev.ObjectRef)
		case "responseStatus":
			if s.null() {
				return nil
			}
			ev.ResponseStatus = &Status{}
			err = s.status(ev.ResponseStatus)
		case "requestObject":
			ev.RequestObject, err = s.raw()
		case "responseObject":
			ev.ResponseObject, err = s.raw()
		case "annotations":
			if s.peek() != '{' && !s.null() {
				return s.fail("annotations: expected an object")
			}
			ev.RawAnnotations, err = s.raw()
		case "requestReceivedTimestamp":
			ev.RequestReceivedTimestamp, err = s.optStr()
		case "stageTimestamp":
			ev.StageTimestamp, err = s.optStr()
		default:
			_, err = s.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(s.b) {
		return s.fail("data after the event")
	}
	return nil
}
