package load

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// InputError is a problem with one input: unreadable, malformed, too large.
type InputError struct {
	// File is the input's path ("-" for stdin, an endpoint for remote inputs).
	File string `json:"file"`
	// Line is the 1-based line of the problem, 0 when it concerns the whole input.
	Line int `json:"line,omitempty"`
	// Message says what is wrong, in one line.
	Message string `json:"message"`
}

// Error renders the error as "file:line: message".
func (e InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Message)
}

// Limits bound the resources one input may consume.
type Limits struct {
	// MaxFileSize is the largest input accepted, in bytes.
	MaxFileSize int64
	// MaxDepth is the deepest nesting of YAML/JSON collections accepted.
	MaxDepth int
	// MaxAliasNodes bounds how many nodes YAML aliases may expand to per document.
	MaxAliasNodes int
}

// DefaultLimits are generous for real manifests and stop hostile input early.
var DefaultLimits = Limits{MaxFileSize: 64 << 20, MaxDepth: 512, MaxAliasNodes: 100_000}

// Unit is one stream of YAML or JSON documents to decode.
type Unit struct {
	// File is the path findings are reported against.
	File string
	// Origin names the renderer ("helm:<chart>", "kustomize:<dir>") or is empty.
	Origin string
	// DefaultNamespace is set on namespaced objects that have none (Helm's
	// release namespace). Empty leaves objects as written.
	DefaultNamespace string
	// Data is the content; when nil the file at Path is read.
	Data []byte
	// Path is the file to read when Data is nil.
	Path string
	// LineOf, when set, maps an object to its first line in File; renderers
	// use it when Data's own lines do not match File's (Helm).
	LineOf func(obj *k8s.Object) int
	// MapLine, when set with LineOf, maps lines of Data to lines of File, so
	// that findings point at the template line of the offending field; lines
	// it maps to 0 fall back to the object's line (Helm).
	MapLine func(line int) int
	// NodeOf, when set, returns the YAML node of the object's document in
	// File, so that field paths resolve to File's lines although the object
	// was decoded from rendered Data (Kustomize). Fields that File lacks
	// (added by patches) resolve to their nearest ancestor in File.
	NodeOf func(obj *k8s.Object) *yaml.Node
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// Decode decodes every document of data and calls fn with each Kubernetes
// object (items of a v1 List are expanded). Documents that are not
// Kubernetes objects are skipped. Problems are returned as InputErrors; the
// documents decoded before a syntax error are still delivered.
func Decode(u Unit, data []byte, lim Limits, fn func(*k8s.Object)) []InputError {
	return DecodeWith(u, data, lim, nil, fn)
}

// DecodeWith is Decode with a needBody predicate: for objects whose
// apiVersion and kind it rejects, only apiVersion, kind and metadata are
// decoded (a scan with no control reading CustomResourceDefinitions need
// not build their large schemas). The rest is still checked for depth and
// alias expansion, so hostile input is reported all the same. A nil
// needBody decodes everything.
func DecodeWith(u Unit, data []byte, lim Limits, needBody func(apiVersion, kind string) bool, fn func(*k8s.Object)) []InputError {
	if int64(len(data)) > lim.MaxFileSize {
		return []InputError{{File: u.File, Message: fmt.Sprintf("file is %s, larger than the %s limit", humanBytes(int64(len(data))), humanBytes(lim.MaxFileSize))}}
	}
	if isBinary(data) {
		return []InputError{{File: u.File, Message: "binary file, not YAML or JSON"}}
	}
	var errs []InputError
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ok := decodeJSONFallback(u, data, lim, fn); ok && len(errs) == 0 {
				return nil
			}
			ie := yamlError(u.File, err)
			if strings.Contains(ie.Message, "exceeded max depth") {
				// The YAML parser reports its own depth limit where it stopped.
				if l := nestingLine(data, lim.MaxDepth); l > 0 {
					ie = InputError{File: u.File, Line: l, Message: fmt.Sprintf("nesting deeper than %d levels", lim.MaxDepth)}
				}
			}
			errs = append(errs, ie)
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		c := converter{maxDepth: lim.MaxDepth, aliasBudget: lim.MaxAliasNodes}
		v, err := c.convertTop(root, needBody)
		if err != nil {
			errs = append(errs, InputError{File: u.File, Line: root.Line, Message: err.Error()})
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		emitObject(u, m, root, root.Line, fn)
	}
	return errs
}

// emitObject delivers m (and the items of a List) when it is a Kubernetes object.
func emitObject(u Unit, m map[string]any, node *yaml.Node, line int, fn func(*k8s.Object)) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if apiVersion == "" || kind == "" {
		return
	}
	if strings.HasSuffix(kind, "List") && k8s.Has(m, "items") {
		itemsNode := mapValue(node, "items")
		for i, it := range k8s.Slice(m, "items") {
			im, ok := it.(map[string]any)
			if !ok {
				continue
			}
			var in *yaml.Node
			l := line
			if itemsNode != nil && itemsNode.Kind == yaml.SequenceNode && i < len(itemsNode.Content) {
				in = itemsNode.Content[i]
				l = in.Line
			}
			emitObject(u, im, in, l, fn)
		}
		return
	}
	if _, ok := m["metadata"].(map[string]any); !ok && m["metadata"] != nil {
		return
	}
	obj := k8s.NewObject(m, k8s.Source{File: u.File, Line: line, Origin: u.Origin})
	if node != nil {
		obj.WithNode(node, 0)
	}
	if u.DefaultNamespace != "" && obj.Namespace() == "" && !k8s.IsClusterScoped(kind) {
		obj.SetNamespace(u.DefaultNamespace)
	}
	switch {
	case u.NodeOf != nil:
		obj.Release()
		if n := u.NodeOf(obj); n != nil {
			obj.WithNode(n, 0)
			obj.Source.Line = n.Line
		}
	case u.LineOf != nil:
		if u.MapLine != nil {
			obj.WithLineMap(u.MapLine)
		} else {
			obj.Release()
		}
		if l := u.LineOf(obj); l > 0 {
			obj.Source.Line = l
		}
	}
	fn(obj)
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decodeJSONFallback handles JSON that YAML rejects (tabs used as
// indentation). It reports whether data was valid JSON.
func decodeJSONFallback(u Unit, data []byte, lim Limits, fn func(*k8s.Object)) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return false
	}
	v, err := decodeJSON(t, lim.MaxDepth)
	if err != nil {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		emitObject(u, x, nil, 1, fn)
	case []any:
		for _, it := range x {
			if m, ok := it.(map[string]any); ok {
				emitObject(u, m, nil, 1, fn)
			}
		}
	}
	return true
}

func yamlError(file string, err error) InputError {
	msg := err.Error()
	line := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.Index(msg, "line "+strconv.Itoa(line)+": "); line > 0 && i >= 0 {
		msg = msg[:i] + msg[i+len("line "+strconv.Itoa(line)+": "):]
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	return InputError{File: file, Line: line, Message: "invalid YAML: " + msg}
}

// isBinary reports whether data looks like a binary file: a NUL byte or
// invalid UTF-8 in its first 8 KiB.
func isBinary(data []byte) bool {
	head := data
	if len(head) > 8192 {
		head = head[:8192]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	// Trim a possibly cut rune at the end before validating.
	for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1]
	}
	return !utf8.Valid(head)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// converter turns yaml.Nodes into JSON-compatible values, bounding depth and
// alias expansion.
type converter struct {
	maxDepth    int
	aliasBudget int
}

// nestingLine returns the 1-based line where flow-style nesting ([ and {
// outside quoted strings and comments) first goes deeper than max, or 0.
// It only locates an error already found; it decides nothing.
func nestingLine(data []byte, max int) int {
	depth, line := 0, 1
	var quote byte
	comment, prev := false, byte('\n')
	for i := 0; i < len(data); i++ {
		b := data[i]
		switch {
		case b == '\n':
			line++
			comment = false
		case comment:
		case quote != 0:
			if b == '\\' && quote == '"' {
				i++
			} else if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			comment = true
		case b == '[' || b == '{':
			depth++
			if depth > max {
				return line
			}
		case b == ']' || b == '}':
			depth--
		}
		prev = b
	}
	return 0
}

// convertTop converts a document's root; when needBody rejects the
// object's kind, it converts apiVersion, kind and metadata and only measures
// the rest.
func (c *converter) convertTop(root *yaml.Node, needBody func(apiVersion, kind string) bool) (any, error) {
	if needBody == nil || root.Kind != yaml.MappingNode {
		return c.convert(root, 0, false)
	}
	var apiVersion, kind string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "apiVersion":
			apiVersion = v.Value
		case "kind":
			kind = v.Value
		}
	}
	if kind == "" || strings.HasSuffix(kind, "List") || needBody(apiVersion, kind) {
		return c.convert(root, 0, false)
	}
	m := make(map[string]any, 3)
	memo := map[*yaml.Node]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "apiVersion", "kind", "metadata":
			val, err := c.convert(v, 1, false)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		default:
			if _, err := c.measure(v, 1, memo); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// measure returns how many nodes n expands to, enforcing the same depth
// and alias limits as convert without building anything. Alias targets are
// measured once.
func (c *converter) measure(n *yaml.Node, depth int, memo map[*yaml.Node]int) (int, error) {
	if depth > c.maxDepth {
		return 0, fmt.Errorf("nesting deeper than %d levels", c.maxDepth)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1, nil
		}
		size, ok := memo[n.Alias]
		if !ok {
			var err error
			if size, err = c.measure(n.Alias, depth+1, memo); err != nil {
				return 0, err
			}
			memo[n.Alias] = size
		}
		c.aliasBudget -= size
		if c.aliasBudget < 0 {
			return 0, errAliasBomb
		}
		return size, nil
	}
	total := 1
	for _, ch := range n.Content {
		size, err := c.measure(ch, depth+1, memo)
		if err != nil {
			return 0, err
		}
		total += size
	}
	return total, nil
}

var errAliasBomb = errors.New("document expands YAML aliases beyond the limit (possible YAML bomb)")

func (c *converter) convert(n *yaml.Node, depth int, viaAlias bool) (any, error) {
	if depth > c.maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", c.maxDepth)
	}
	if viaAlias {
		c.aliasBudget--
		if c.aliasBudget < 0 {
			return nil, errAliasBomb
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth, viaAlias)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		return c.convert(n.Alias, depth+1, true)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag != "!!str" {
				if err := c.merge(m, v, depth, viaAlias); err != nil {
					return nil, err
				}
				continue
			}
			val, err := c.convert(v, depth+1, viaAlias)
			if err != nil {
				return nil, err
			}
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				key = fmt.Sprint(k.Value)
			}
			m[key] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, it := range n.Content {
			v, err := c.convert(it, depth+1, viaAlias)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, nil
}

// merge applies a YAML merge key (<<) value to m without overriding keys.
func (c *converter) merge(m map[string]any, v *yaml.Node, depth int, viaAlias bool) error {
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, s := range srcs {
		val, err := c.convert(s, depth+1, viaAlias)
		if err != nil {
			return err
		}
		if mm, ok := val.(map[string]any); ok {
			for k, x := range mm {
				if _, exists := m[k]; !exists {
					m[k] = x
				}
			}
		}
	}
	return nil
}

// scalar resolves a scalar node the way Kubernetes' YAML decoder does:
// ints to int64, floats to float64, timestamps stay strings.
func scalar(n *yaml.Node) any {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 && n.Tag == "!!str" {
		return n.Value
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on", "y":
			return true
		}
		return false
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i
		}
		if strings.HasPrefix(s, "0o") {
			if i, err := strconv.ParseInt(s[2:], 8, 64); err == nil {
				return i
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return n.Value
	case "!!float":
		switch strings.ToLower(n.Value) {
		case ".inf", "+.inf":
			return math.Inf(1)
		case "-.inf":
			return math.Inf(-1)
		case ".nan":
			return math.NaN()
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return f
		}
		return n.Value
	case "!!binary":
		if b, err := base64.StdEncoding.DecodeString(n.Value); err == nil && utf8.Valid(b) {
			return string(b)
		}
		return n.Value
	}
	return n.Value
}
