package k8s

import (
	"reflect"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestSplitPath(t *testing.T) {
	tests := []struct {
		name, path string
		want       []string
	}{
		{"dotted", "spec.template.spec", []string{"spec", "template", "spec"}},
		{"index", "spec.containers[2].image", []string{"spec", "containers", "2", "image"}},
		{"quoted key", `metadata.annotations["a.b/c"].x`, []string{"metadata", "annotations", "a.b/c", "x"}},
		{"empty", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitPath(tt.path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitPath(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
	if got := Key("metadata.annotations", "a.b/c"); got != `metadata.annotations["a.b/c"]` {
		t.Errorf("Key = %s", got)
	}
}

func TestMatchLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	tests := []struct {
		name string
		sel  map[string]any
		want bool
	}{
		{"nil matches nothing", nil, false},
		{"empty matches all", map[string]any{}, true},
		{"matchLabels", map[string]any{"matchLabels": map[string]any{"app": "web"}}, true},
		{"matchLabels mismatch", map[string]any{"matchLabels": map[string]any{"app": "db"}}, false},
		{"In", map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"front", "back"}}}}, true},
		{"NotIn", map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "NotIn", "values": []any{"front"}}}}, false},
		{"Exists", map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "Exists"}}}, true},
		{"DoesNotExist", map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "DoesNotExist"}}}, false},
		{"bad operator", map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "Like"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchLabelSelector(tt.sel, labels); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if MatchSelectorMap(nil, labels) || !MatchSelectorMap(map[string]string{"app": "web"}, labels) {
		t.Error("MatchSelectorMap")
	}
}

func TestPodSpecOf(t *testing.T) {
	tmpl := map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}}, "spec": map[string]any{
		"initContainers":      []any{map[string]any{"name": "i"}},
		"containers":          []any{map[string]any{"name": "c"}},
		"ephemeralContainers": []any{map[string]any{"name": "e"}},
	}}
	tests := []struct {
		kind   string
		obj    map[string]any
		path   string
		labels bool
	}{
		{"Pod", map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}}, "spec": tmpl["spec"]}, "spec", true},
		{"Deployment", map[string]any{"spec": map[string]any{"template": tmpl}}, "spec.template.spec", true},
		{"CronJob", map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}}, "spec.jobTemplate.spec.template.spec", true},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			tt.obj["kind"] = tt.kind
			ps, ok := PodSpecOf(NewObject(tt.obj, Source{}))
			if !ok || ps.Path != tt.path || ps.Labels()["a"] != "b" {
				t.Fatalf("PodSpecOf = %+v, %v", ps, ok)
			}
			cs := ps.Containers()
			if len(cs) != 3 || cs[0].Path != tt.path+".initContainers[0]" || cs[2].Field != "ephemeralContainers" {
				t.Errorf("containers = %+v", cs)
			}
		})
	}
	if _, ok := PodSpecOf(NewObject(map[string]any{"kind": "ConfigMap"}, Source{})); ok {
		t.Error("ConfigMap has no pod spec")
	}
}

func TestEntryLine(t *testing.T) {
	e := &Entry{Source: Source{Line: 3}, lines: []pathLine{{"spec", 5}, {"spec.rules", 9}}}
	for path, want := range map[string]int{"spec.rules[0].http": 9, "spec.rulesX": 5, "spec": 5, "metadata.name": 3, "spec.tls": 5} {
		if got := e.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestLocateWithPatches(t *testing.T) {
	parse := func(s string) *yaml.Node {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Content[0]
	}
	base := parse("kind: Pod\nspec:\n  containers:\n    - name: a\n      image: x\n    - name: b\n      image: y\n")
	patch := parse("kind: Pod\nspec:\n  containers:\n    - name: b\n      securityContext:\n        privileged: true\n")
	// The merged object: container b kept its position after a.
	content := map[string]any{"kind": "Pod", "spec": map[string]any{"containers": []any{
		map[string]any{"name": "a", "image": "x"},
		map[string]any{"name": "b", "image": "y", "securityContext": map[string]any{"privileged": true}},
	}}}
	obj := NewObject(content, Source{File: "base.yaml", Line: 1}).WithNode(base, 0).WithPatches([]Patch{{File: "patch.yaml", Node: patch}})
	tests := []struct {
		path, file string
		line       int
	}{
		{"spec.containers[1].securityContext.privileged", "patch.yaml", 6}, // matched by name, not index
		{"spec.containers[1].image", "base.yaml", 7},
		{"spec.containers[0].image", "base.yaml", 5},
		{"spec.containers[0].securityContext", "base.yaml", 4}, // absent: nearest ancestor in base
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			file, line := obj.Locate(tt.path)
			if file != tt.file || line != tt.line {
				t.Errorf("Locate = %s:%d, want %s:%d", file, line, tt.file, tt.line)
			}
		})
	}
}
