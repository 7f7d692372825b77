package detect

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzParse holds the rule-file parser and compiler to any input: rules or
// an error naming the file, never a panic.
func FuzzParse(f *testing.F) {
	_ = fs.WalkDir(rules, "rules", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			data, _ := rules.ReadFile(path)
			f.Add(data)
		}
		return nil
	})
	f.Add([]byte(toyRules))
	f.Add([]byte("id: x\nmatch: [1]\ndedupe: {cooldown: -1s}\n"))
	f.Add([]byte("- &a {id: a}\n- *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_, _ = Compile(rs, toySource)
	})
}
