package load

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		wantRefs  []string // Kind/ns/name @line
		wantErrAt int      // 0: no error
		errSubstr string
	}{
		{
			name:     "multi-document with non-kubernetes YAML skipped",
			data:     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n# a CI config\nstages: [build]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  namespace: x\n",
			wantRefs: []string{"Pod/a@1", "Service/x/b@9"},
		},
		{
			name:     "v1 List items are expanded with their own lines",
			data:     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
			wantRefs: []string{"Pod/a@4", "ConfigMap/b@7"},
		},
		{
			name:     "JSON object",
			data:     `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}`,
			wantRefs: []string{"Pod/j@1"},
		},
		{
			name:     "JSON with tab indentation",
			data:     "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"tabs\"}\n}\n",
			wantRefs: []string{"Pod/tabs@1"},
		},
		{
			name:     "empty documents and comments",
			data:     "---\n# nothing\n---\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n",
			wantRefs: []string{"Pod/a@5"},
		},
		{
			name:      "syntax error keeps earlier documents",
			data:      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n   bad: [\n",
			wantRefs:  []string{"Pod/a@1"},
			wantErrAt: 10,
			errSubstr: "invalid YAML",
		},
		{
			name:      "alias bomb",
			data:      aliasBomb(),
			wantErrAt: 1,
			errSubstr: "YAML bomb",
		},
		{
			name:      "binary",
			data:      "\x7fELF\x02\x01\x01\x00\x00\x00",
			errSubstr: "binary file",
		},
		{
			name:      "nesting too deep",
			data:      "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec: " + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\n",
			wantErrAt: 1,
			errSubstr: "nesting deeper",
		},
		{
			name:     "anchors and merge keys resolve",
			data:     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: m\n  labels: &l {app: x}\n  annotations:\n    <<: *l\n",
			wantRefs: []string{"Pod/m@1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			errs := Decode(Unit{File: "f.yaml"}, []byte(tt.data), DefaultLimits, func(o *k8s.Object) {
				got = append(got, o.Ref().String()+"@"+itoa(o.Source.Line))
			})
			if strings.Join(got, ",") != strings.Join(tt.wantRefs, ",") {
				t.Errorf("objects = %v, want %v", got, tt.wantRefs)
			}
			if tt.errSubstr == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors = %v, want exactly one", errs)
			}
			e := errs[0]
			if e.File != "f.yaml" || !strings.Contains(e.Message, tt.errSubstr) || (tt.wantErrAt != 0 && e.Line != tt.wantErrAt) {
				t.Errorf("error = %+v, want f.yaml line %d containing %q", e, tt.wantErrAt, tt.errSubstr)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: v\nspec:\n  i: 42\n  f: 1.5\n  b: true\n  q: \"true\"\n  n: null\n  o: 0o17\n  ts: 2024-01-01\n"
	var obj *k8s.Object
	Decode(Unit{File: "v.yaml"}, []byte(data), DefaultLimits, func(o *k8s.Object) { obj = o })
	spec := k8s.Map(obj.Content, "spec")
	want := map[string]any{"i": int64(42), "f": 1.5, "b": true, "q": "true", "n": nil, "o": int64(15), "ts": "2024-01-01"}
	for k, v := range want {
		if spec[k] != v {
			t.Errorf("spec.%s = %#v (%T), want %#v", k, spec[k], spec[k], v)
		}
	}
}

func TestDefaultNamespace(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: own}\n"
	var got []string
	Decode(Unit{File: "x", DefaultNamespace: "rel"}, []byte(data), DefaultLimits, func(o *k8s.Object) { got = append(got, o.Ref().String()) })
	if strings.Join(got, ",") != "Pod/rel/a,ClusterRole/r,Pod/own/b" {
		t.Errorf("got %v", got)
	}
}

func TestObjectLine(t *testing.T) {
	data := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    a.b/c: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx\n          securityContext:\n            privileged: true\n"
	var obj *k8s.Object
	Decode(Unit{File: "d.yaml"}, []byte(data), DefaultLimits, func(o *k8s.Object) { obj = o })
	tests := []struct {
		path string
		line int
	}{
		{"spec.template.spec.containers[0].securityContext.privileged", 14},
		{"spec.template.spec.containers[0].image", 12},
		{"spec.template.spec.containers[0].securityContext.runAsNonRoot", 13}, // absent: nearest ancestor
		{"spec.template.spec.containers[3]", 10},
		{`metadata.annotations["a.b/c"]`, 6},
		{"", 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := obj.Line(tt.path); got != tt.line {
				t.Errorf("Line(%q) = %d, want %d", tt.path, got, tt.line)
			}
		})
	}
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [")
		for i := 0; i < 9; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = n
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDecodeWithSkipsBodies(t *testing.T) {
	crd := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: big\n  namespace: default\nspec:\n  versions: [{name: v1}]\n"
	needBody := func(_, kind string) bool { return kind != "CustomResourceDefinition" }
	var got []*k8s.Object
	errs := DecodeWith(Unit{File: "c.yaml"}, []byte(crd+"---\n"+strings.Replace(crd, "CustomResourceDefinition", "Pod", 1)), DefaultLimits, needBody, func(o *k8s.Object) { got = append(got, o) })
	if len(errs) != 0 || len(got) != 2 {
		t.Fatalf("errs %v, objects %d", errs, len(got))
	}
	if k8s.Has(got[0].Content, "spec") || got[0].Namespace() != "default" || got[0].Name() != "big" {
		t.Errorf("skipped object = %v, want metadata without spec", got[0].Content)
	}
	if !k8s.Has(got[1].Content, "spec") {
		t.Errorf("needed object lost its spec: %v", got[1].Content)
	}
	// Hostile input in a skipped body is still reported.
	bomb := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: b}\n" + strings.TrimPrefix(aliasBomb(), "a:")
	bomb = strings.Replace(bomb, " &a [", "spec: &a [", 1)
	errs = DecodeWith(Unit{File: "b.yaml"}, []byte(bomb), DefaultLimits, needBody, func(*k8s.Object) {})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "YAML bomb") {
		t.Errorf("bomb in skipped body: errs = %v", errs)
	}
}
