package kustomize

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

var update = flag.Bool("update", false, "rewrite golden files")

func decodeAll(t *testing.T, units []load.Unit) []*k8s.Object {
	t.Helper()
	var out []*k8s.Object
	for _, u := range units {
		data := u.Data
		if data == nil {
			b, err := os.ReadFile(u.Path)
			if err != nil {
				t.Fatal(err)
			}
			data = b
		}
		if errs := load.Decode(u, data, load.DefaultLimits, func(o *k8s.Object) { out = append(out, o) }); len(errs) > 0 {
			t.Fatalf("decode %s: %v", u.File, errs)
		}
	}
	return out
}

func byKind(objs []*k8s.Object, kind string) []*k8s.Object {
	var out []*k8s.Object
	for _, o := range objs {
		if o.Kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestRenderOverlay builds an overlay with a namespace, a name prefix, a
// patch and a generator, and checks the built objects and where they point.
func TestRenderOverlay(t *testing.T) {
	dir := filepath.Join("testdata", "tree", "overlays", "dev")
	units, consumed, err := New().Render(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, units)

	var b strings.Builder
	for _, o := range objs {
		fmt.Fprintf(&b, "%s:%d %s %s\n", filepath.ToSlash(o.Source.File), o.Source.Line, o.Ref(), o.Source.Origin)
	}
	golden := filepath.Join("testdata", "overlay.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("objects:\n%s\nwant:\n%s", b.String(), want)
	}

	deps := byKind(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("got %d Deployments, want 1", len(deps))
	}
	d := deps[0]
	ps, _ := k8s.PodSpecOf(d)
	replicas, _ := k8s.Int(k8s.Map(d.Content, "spec"), "replicas")
	privileged, _ := k8s.Bool(ps.Containers()[0].SecurityContext(), "privileged")
	_, hasOrigin := d.Annotations()["config.kubernetes.io/origin"]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "namespace from overlay", got: d.Namespace(), want: "dev"},
		{name: "name prefix", got: d.Name(), want: "dev-web"},
		{name: "patch replicas", got: replicas, want: int64(3)},
		{name: "patch privileged", got: privileged, want: true},
		{name: "user annotation kept", got: d.Annotations()["team"], want: "payments"},
		{name: "origin annotation stripped", got: hasOrigin, want: false},
		{name: "source file is the base file", got: d.Source.File, want: filepath.Join("testdata", "tree", "base", "resources.yaml")},
		{name: "source line is the document start", got: d.Source.Line, want: 9},
		{name: "origin names the overlay", got: d.Source.Origin, want: "kustomize:" + dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	for _, o := range objs {
		if len(o.Annotations()) == 0 && k8s.Has(o.Metadata(), "annotations") {
			t.Errorf("%s keeps an empty annotations map", o.Ref())
		}
		for k := range o.Annotations() {
			if strings.HasPrefix(k, "config.kubernetes.io/") || strings.HasPrefix(k, "internal.config.kubernetes.io/") {
				t.Errorf("%s keeps Kustomize annotation %s", o.Ref(), k)
			}
		}
	}

	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	for _, p := range []string{"testdata/tree/base", "testdata/tree/base/resources.yaml", "testdata/tree/base/kustomization.yaml", "testdata/tree/overlays/dev/patch.yaml"} {
		if !slices.Contains(consumed, abs(p)) {
			t.Errorf("consumed %v lacks %s", consumed, abs(p))
		}
	}
	if slices.Contains(consumed, abs("testdata/tree")) || slices.Contains(consumed, abs("testdata/tree/plain.yaml")) {
		t.Errorf("consumed %v holds paths the build did not read", consumed)
	}
	// the file on disk must be untouched by the origin-annotation injection
	if k, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); strings.Contains(string(k), "buildMetadata") {
		t.Error("kustomization.yaml was modified")
	}
}

// TestWalkBaseNotTwice walks a tree holding a base, an overlay of it and a
// plain file: the base's objects come once, through the overlay.
func TestWalkBaseNotTwice(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		wantRefs  []string
		wantFiles []string
	}{
		{
			name:      "whole tree",
			paths:     []string{"testdata/tree"},
			wantRefs:  []string{"ConfigMap/dev/dev-generated-ck5fk26hc4", "ConfigMap/dev/dev-settings", "ConfigMap/plain", "Deployment/dev/dev-web", "Namespace/dev"},
			wantFiles: []string{"testdata/tree/base/resources.yaml", "testdata/tree/overlays/dev/kustomization.yaml", "testdata/tree/plain.yaml"},
		},
		{
			name:      "base alone",
			paths:     []string{"testdata/tree/base"},
			wantRefs:  []string{"ConfigMap/settings", "Deployment/web", "Namespace/shared"},
			wantFiles: []string{"testdata/tree/base/resources.yaml"},
		},
		{
			name:      "base and overlay named explicitly",
			paths:     []string{"testdata/tree/base", "testdata/tree/overlays/dev"},
			wantRefs:  []string{"ConfigMap/dev/dev-generated-ck5fk26hc4", "ConfigMap/dev/dev-settings", "Deployment/dev/dev-web", "Namespace/dev"},
			wantFiles: []string{"testdata/tree/base/resources.yaml", "testdata/tree/overlays/dev/kustomization.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var units []load.Unit
			load.Walk(context.Background(), tt.paths, load.Options{Limits: load.DefaultLimits, Renderers: []load.Renderer{New()}},
				func(u load.Unit) { units = append(units, u) },
				func(e load.InputError) { t.Errorf("input error: %v", e) })
			var refs, files []string
			for _, o := range decodeAll(t, units) {
				r := o.Ref()
				refs = append(refs, r.Kind+"/"+strings.TrimPrefix(r.Namespace+"/", "/")+r.Name)
				if !slices.Contains(files, filepath.ToSlash(o.Source.File)) {
					files = append(files, filepath.ToSlash(o.Source.File))
				}
			}
			slices.Sort(refs)
			slices.Sort(files)
			if !slices.Equal(refs, tt.wantRefs) {
				t.Errorf("objects %v, want %v", refs, tt.wantRefs)
			}
			if !slices.Equal(files, tt.wantFiles) {
				t.Errorf("files %v, want %v", files, tt.wantFiles)
			}
		})
	}
}

// TestWalkBrokenKustomization checks that a kustomization that fails to
// build is one input error and that the rest of the tree still loads.
func TestWalkBrokenKustomization(t *testing.T) {
	var units []load.Unit
	var errs []load.InputError
	load.Walk(context.Background(), []string{"testdata/broken"}, load.Options{Limits: load.DefaultLimits, Renderers: []load.Renderer{New()}},
		func(u load.Unit) { units = append(units, u) },
		func(e load.InputError) { errs = append(errs, e) })
	if len(errs) != 1 || errs[0].File != filepath.Join("testdata", "broken", "bad") || !strings.HasPrefix(errs[0].Message, "kustomize: ") || !strings.Contains(errs[0].Message, "does-not-exist.yaml") {
		t.Errorf("errors = %+v, want one for testdata/broken/bad naming does-not-exist.yaml", errs)
	}
	if len(units) != 1 || units[0].File != filepath.Join("testdata", "broken", "plain.yaml") {
		t.Errorf("units = %+v, want testdata/broken/plain.yaml", units)
	}
}

func TestRemoteRefused(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{name: "git base", dir: "testdata/remote/git", want: "github.com/kubernetes-sigs/kustomize"},
		{name: "http resource", dir: "testdata/remote/http", want: "https://raw.githubusercontent.com/"},
		{name: "remote base of a local base", dir: "testdata/remote/nested/overlay", want: "git@github.com:example/repo.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := New().Render(context.Background(), tt.dir)
			if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrRemote naming %q", err, tt.want)
			}
		})
	}
}

func TestIsRemote(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "local file", ref: "deployment.yaml", want: false},
		{name: "local base", ref: "../../base", want: false},
		{name: "absolute path", ref: "/srv/base", want: false},
		{name: "github shorthand", ref: "github.com/org/repo//deploy?ref=v1", want: true},
		{name: "https git", ref: "https://github.com/org/repo.git", want: true},
		{name: "ssh scp form", ref: "git@github.com:org/repo.git", want: true},
		{name: "http file", ref: "http://example.com/x.yaml", want: true},
		{name: "inline patch", ref: "apiVersion: v1\nkind: ConfigMap\n", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRemote(tt.ref); got != tt.want {
				t.Errorf("isRemote(%q) = %v, want %v", tt.ref, got, tt.want)
			}
		})
	}
}

func TestWithOriginAnnotations(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "no buildMetadata", in: "resources:\n- a.yaml\n", want: []string{"originAnnotations"}},
		{name: "other build metadata kept", in: "buildMetadata: [managedByLabel]\n", want: []string{"managedByLabel", "originAnnotations"}},
		{name: "already on", in: "buildMetadata:\n- originAnnotations\n", want: []string{"originAnnotations"}},
		{name: "null", in: "buildMetadata:\n", want: []string{"originAnnotations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k struct {
				BuildMetadata []string `yaml:"buildMetadata"`
			}
			if err := yaml.Unmarshal(withOriginAnnotations([]byte(tt.in)), &k); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.BuildMetadata, tt.want) {
				t.Errorf("buildMetadata = %v, want %v", k.BuildMetadata, tt.want)
			}
		})
	}
}

func TestIsRoot(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  bool
	}{
		{name: "kustomization.yaml", names: []string{"deploy.yaml", "kustomization.yaml"}, want: true},
		{name: "kustomization.yml", names: []string{"kustomization.yml"}, want: true},
		{name: "Kustomization", names: []string{"Kustomization"}, want: true},
		{name: "plain", names: []string{"deploy.yaml", "kustomize.yaml"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New().IsRoot(tt.names); got != tt.want {
				t.Errorf("IsRoot(%v) = %v, want %v", tt.names, got, tt.want)
			}
		})
	}
}
