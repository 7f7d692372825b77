package celrules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/celrules"
)

// FuzzParse feeds arbitrary rule files to the loader: it must return rules
// or an error, never panic, and every rule it returns must evaluate (to a
// result or an error) without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validRule))
	if data, err := os.ReadFile(filepath.Join("..", "..", "examples", "rules", "rules.yaml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("- id: a\n  title: x\n   bad: indent\n"))
	f.Add([]byte("- &a [*a]\n"))
	f.Add([]byte("- {id: x, title: t, severity: low, match: {kinds: [Pod]}, expression: 'object.a.all(x, x)', message: m}\n"))
	obj := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}, "spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := celrules.Parse("fuzz.yaml", data, celrules.Options{Reserved: reserved})
		if err == nil && len(rules) == 0 {
			t.Fatal("no rules and no error")
		}
		for _, r := range rules {
			if r.Program() == nil || r.ID == "" {
				t.Fatalf("incomplete rule %+v", r)
			}
			_, _ = r.Program().Eval(obj)
		}
	})
}
