package load

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// decodeJSON decodes one JSON value with numbers as int64 or float64,
// rejecting nesting deeper than maxDepth before decoding.
func decodeJSON(data []byte, maxDepth int) (any, error) {
	depth, inStr, esc := 0, false, false
	for _, b := range data {
		switch {
		case esc:
			esc = false
		case inStr && b == '\\':
			esc = true
		case b == '"':
			inStr = !inStr
		case inStr:
		case b == '{' || b == '[':
			depth++
			if depth > maxDepth {
				return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return k8s.NormalizeNumbers(v), nil
}
