package helm

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

var update = flag.Bool("update", false, "rewrite golden files")

// rendered is one decoded object with its provenance.
type rendered struct {
	file, origin, ns, kind, name string
	line                         int
	obj                          *k8s.Object
}

func renderObjects(t *testing.T, opts Options, dir string) ([]rendered, []load.Unit) {
	t.Helper()
	units, consumed, err := New(opts).Render(context.Background(), dir)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	abs, _ := filepath.Abs(dir)
	if !slices.Equal(consumed, []string{abs}) {
		t.Errorf("consumed = %v, want [%s]", consumed, abs)
	}
	var out []rendered
	for _, u := range units {
		errs := load.Decode(u, u.Data, load.DefaultLimits, func(o *k8s.Object) {
			out = append(out, rendered{file: o.Source.File, origin: o.Source.Origin, ns: o.Namespace(), kind: o.Kind(), name: o.Name(), line: o.Source.Line, obj: o})
		})
		if len(errs) > 0 {
			t.Fatalf("decode %s: %v", u.File, errs)
		}
	}
	return out, units
}

func find(objs []rendered, kind string) *rendered {
	for i := range objs {
		if objs[i].kind == kind {
			return &objs[i]
		}
	}
	return nil
}

func image(o *rendered) string {
	ps, ok := k8s.PodSpecOf(o.obj)
	if !ok || len(ps.Containers()) == 0 {
		return ""
	}
	return k8s.Str(ps.Containers()[0].Spec, "image")
}

func TestRenderValuesAndNamespace(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantImage string
		wantNS    string // the objects' namespace
		wantRelNS string // .Release.Namespace as templates see it
		wantName  string
		wantPort  int64
	}{
		{name: "chart defaults", opts: Options{}, wantImage: "example.com/app:1.0", wantNS: "", wantRelNS: "default", wantName: "rampart-scan-app", wantPort: 8080},
		{name: "values file", opts: Options{ValueFiles: []string{"testdata/override.yaml"}}, wantImage: "example.com/app:2.0", wantNS: "", wantRelNS: "default", wantName: "rampart-scan-app", wantPort: 8080},
		{name: "set overrides values file", opts: Options{ValueFiles: []string{"testdata/override.yaml"}, Set: []string{"image.tag=3.0,image.repository=other.io/x", "sub.port=9090"}}, wantImage: "other.io/x:3.0", wantNS: "", wantRelNS: "default", wantName: "rampart-scan-app", wantPort: 9090},
		{name: "release name and namespace", opts: Options{ReleaseName: "rel", Namespace: "team-a"}, wantImage: "example.com/app:1.0", wantNS: "team-a", wantRelNS: "team-a", wantName: "rel-app", wantPort: 8080},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, units := renderObjects(t, tt.opts, "testdata/app")
			for _, u := range units {
				if strings.HasSuffix(u.File, "NOTES.txt") || strings.HasSuffix(u.File, "empty.yaml") || strings.HasSuffix(u.File, "_helpers.tpl") {
					t.Errorf("unit for %s should be skipped", u.File)
				}
				if u.Origin != "helm:testdata/app" {
					t.Errorf("origin = %q", u.Origin)
				}
			}
			if len(objs) != 4 {
				t.Fatalf("got %d objects, want 4 (Deployment, ConfigMap, ClusterRole, sub Service): %+v", len(objs), objs)
			}
			d := find(objs, "Deployment")
			if d == nil {
				t.Fatal("no Deployment")
			}
			if got := image(d); got != tt.wantImage {
				t.Errorf("image = %q, want %q", got, tt.wantImage)
			}
			if d.ns != tt.wantNS || d.name != tt.wantName {
				t.Errorf("Deployment = %s/%s, want %s/%s", d.ns, d.name, tt.wantNS, tt.wantName)
			}
			if cm := find(objs, "ConfigMap"); cm == nil || cm.ns != "explicit" || k8s.StringMap(cm.obj.Content, "data")["namespace"] != tt.wantRelNS {
				t.Errorf("ConfigMap keeps its own namespace and sees .Release.Namespace: %+v", cm)
			}
			if cr := find(objs, "ClusterRole"); cr == nil || cr.ns != "" {
				t.Errorf("ClusterRole must stay cluster-scoped: %+v", cr)
			}
			svc := find(objs, "Service")
			if svc == nil {
				t.Fatal("subchart Service not rendered")
			}
			ports := k8s.Slice(k8s.Map(svc.obj.Content, "spec"), "ports")
			if p, _ := ports[0].(map[string]any)["port"].(int64); p != tt.wantPort {
				t.Errorf("subchart port = %v, want %d (parent values reach the subchart)", ports[0], tt.wantPort)
			}
			if svc.ns != tt.wantNS {
				t.Errorf("subchart Service namespace = %q, want %q", svc.ns, tt.wantNS)
			}
		})
	}
}

// TestTemplateAttribution checks that objects point at their template file
// and at the first line of their document in it; the golden file lists every
// object as file:line kind/namespace/name.
func TestTemplateAttribution(t *testing.T) {
	objs, _ := renderObjects(t, Options{}, "testdata/app")
	var b strings.Builder
	for _, o := range objs {
		fmt.Fprintf(&b, "%s:%d %s/%s/%s %s\n", filepath.ToSlash(o.file), o.line, o.kind, o.ns, o.name, o.origin)
	}
	got := b.String()
	golden := "testdata/attribution.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("attribution mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}
	tests := []struct {
		name, kind, file string
		line             int
	}{
		{name: "single document", kind: "Deployment", file: "testdata/app/templates/deployment.yaml", line: 1},
		{name: "first document after template-only lines", kind: "ConfigMap", file: "testdata/app/templates/multi.yaml", line: 3},
		{name: "second document after comment and blank line", kind: "ClusterRole", file: "testdata/app/templates/multi.yaml", line: 14},
		{name: "subchart template on disk", kind: "Service", file: "testdata/app/charts/sub/templates/service.yaml", line: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := find(objs, tt.kind)
			if o == nil {
				t.Fatalf("no %s", tt.kind)
			}
			if o.file != tt.file || o.line != tt.line {
				t.Errorf("%s at %s:%d, want %s:%d", tt.kind, o.file, o.line, tt.file, tt.line)
			}
			lines := strings.Split(readFile(t, tt.file), "\n")
			if !strings.HasPrefix(lines[o.line-1], "apiVersion:") {
				t.Errorf("line %d of %s is %q, want the document's apiVersion", o.line, tt.file, lines[o.line-1])
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLineMapperRangeLoop(t *testing.T) {
	src := []byte("{{- range .Values.items }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ . }}\n{{- end }}\n---\napiVersion: v1\nkind: Secret\n")
	tests := []struct {
		name string
		kind string
		want int
	}{
		{name: "first ConfigMap", kind: "ConfigMap", want: 3},
		{name: "second ConfigMap of the loop", kind: "ConfigMap", want: 3},
		{name: "Secret", kind: "Secret", want: 9},
		{name: "templated kind falls back to nth kind line", kind: "Role", want: 9},
	}
	f := lineMapper(src)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": tt.kind}, k8s.Source{})
			if got := f(obj); got != tt.want {
				t.Errorf("line = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opts Options
		want string
	}{
		{name: "template parse error", dir: "testdata/broken/bad", want: "noSuchFunction"},
		{name: "declared dependency missing", dir: "testdata/broken/missing-dep", want: "missing in charts/ directory: redis"},
		{name: "bad --set", dir: "testdata/app", opts: Options{Set: []string{"a[=b"}}, want: "--set"},
		{name: "missing values file", dir: "testdata/app", opts: Options{ValueFiles: []string{"testdata/nope.yaml"}}, want: "values file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := New(tt.opts).Render(context.Background(), tt.dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestWalkBrokenChart checks that each broken chart is one input error and
// that the rest of the tree is still loaded.
func TestWalkBrokenChart(t *testing.T) {
	var units []load.Unit
	var errs []load.InputError
	load.Walk(context.Background(), []string{"testdata/broken"}, load.Options{Limits: load.DefaultLimits, Renderers: []load.Renderer{New(Options{})}},
		func(u load.Unit) { units = append(units, u) },
		func(e load.InputError) { errs = append(errs, e) })
	var files []string
	for _, e := range errs {
		files = append(files, e.File)
		if !strings.HasPrefix(e.Message, "helm: ") {
			t.Errorf("message %q does not name the renderer", e.Message)
		}
	}
	slices.Sort(files)
	if want := []string{"testdata/broken/bad", "testdata/broken/missing-dep"}; !slices.Equal(files, want) {
		t.Errorf("errors for %v, want one each for %v: %v", files, want, errs)
	}
	if len(units) != 1 || units[0].File != "testdata/broken/plain.yaml" {
		t.Errorf("units = %+v, want only testdata/broken/plain.yaml", units)
	}
}

func TestIsRoot(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  bool
	}{
		{name: "chart", names: []string{"Chart.yaml", "templates", "values.yaml"}, want: true},
		{name: "plain dir", names: []string{"deploy.yaml", "chart.yaml"}, want: false},
		{name: "empty", names: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(Options{}).IsRoot(tt.names); got != tt.want {
				t.Errorf("IsRoot(%v) = %v, want %v", tt.names, got, tt.want)
			}
		})
	}
}

func TestAlignLines(t *testing.T) {
	src := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"labels\" . | nindent 4 }}\nspec:\n  containers:\n  {{- range .Values.containers }}\n    - name: {{ .name }}\n      image: {{ .image }}\n      securityContext:\n        privileged: true\n  {{- end }}\n"
	rendered := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: rel\n  labels:\n    app: x\n    tier: y\nspec:\n  containers:\n    - name: a\n      image: a:1\n      securityContext:\n        privileged: true\n    - name: b\n      image: b:1\n      securityContext:\n        privileged: true\n"
	m := alignLines([]byte(src), rendered)
	tests := []struct{ rendered, want int }{
		{1, 1},   // literal line
		{4, 4},   // key with a template action
		{6, 0},   // output of include: no counterpart
		{10, 10}, // first range iteration
		{13, 13},
		{14, 10}, // second iteration maps back into the loop body
		{15, 11},
		{17, 13},
		{99, 0},
	}
	for _, tt := range tests {
		if got := m(tt.rendered); got != tt.want {
			t.Errorf("rendered line %d -> %d, want %d", tt.rendered, got, tt.want)
		}
	}
}
