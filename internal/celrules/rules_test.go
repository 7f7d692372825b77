package celrules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

const validRule = `
- id: no-default-sa
  title: Pod on the default ServiceAccount
  severity: medium
  match:
    kinds: [Pod]
  expression: object.spec.?serviceAccountName.orValue('default') != 'default'
  message: the pod runs as the default ServiceAccount
`

func reserved(id string) bool { return id == "privileged-container" }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantIDs []string
		// wantErr are substrings of the error, in order; the first is
		// usually "file:line:".
		wantErr []string
	}{
		{name: "valid", src: validRule, wantIDs: []string{"no-default-sa"}},
		{name: "variables and messageExpression", src: `
- id: few-replicas
  title: t
  severity: low
  match: {kinds: [Deployment], apiGroups: [apps], namespaces: [prod]}
  variables:
  - name: want
    expression: "2"
  expression: object.spec.?replicas.orValue(1) >= variables.want
  messageExpression: "'replicas: ' + string(object.spec.?replicas.orValue(1))"
`, wantIDs: []string{"few-replicas"}},
		{name: "bad yaml names the line", src: "- id: a\n  title: x\n   bad: indent\n", wantErr: []string{"rules.yaml: ", "line 3"}},
		{name: "not a list", src: "id: a\n", wantErr: []string{"rules.yaml:1: want a list of rules"}},
		{name: "empty", src: "", wantErr: []string{"rules.yaml: empty rule file"}},
		{name: "bad CEL names file, line and column", src: `
- id: broken
  title: t
  severity: low
  match: {kinds: [Pod]}
  expression: object.spec.containers.all(c, c.image.startsWith('x') &&)
  message: m
`, wantErr: []string{"rules.yaml:6: rule broken: expression: 1:", "Syntax error"}},
		{name: "CEL error in a literal block points into it", src: `
- id: broken
  title: t
  severity: low
  match: {kinds: [Pod]}
  expression: |
    has(object.spec) &&
    undefinedThing.size() > 0
  message: m
`, wantErr: []string{"rules.yaml:8: rule broken: expression: 2:1: undeclared reference to 'undefinedThing'"}},
		{name: "non-bool expression", src: `
- id: stringy
  title: t
  severity: low
  match: {kinds: [Pod]}
  expression: "'x'"
  message: m
`, wantErr: []string{"rules.yaml:6: rule stringy: expression: must evaluate to bool, not string"}},
		{name: "params are not available", src: `
- id: paramy
  title: t
  severity: low
  match: {kinds: [Pod]}
  expression: params.x == 1
  message: m
`, wantErr: []string{"rules.yaml:6: rule paramy: expression:", "undeclared reference to 'params'"}},
		{name: "duplicate id", src: validRule + strings.TrimPrefix(validRule, "\n"), wantIDs: []string{"no-default-sa"},
			wantErr: []string{"rules.yaml:9: rule no-default-sa: duplicate id (first defined at line 2)"}},
		{name: "built-in id", src: strings.Replace(validRule, "no-default-sa", "privileged-container", 1),
			wantErr: []string{"rules.yaml:2: rule privileged-container: id \"privileged-container\" is a built-in control"}},
		{name: "id not kebab-case", src: strings.Replace(validRule, "no-default-sa", "No_Default", 1),
			wantErr: []string{"rules.yaml:2: rule No_Default: id \"No_Default\": want kebab-case"}},
		{name: "unknown field", src: strings.Replace(validRule, "  message:", "  mesage:", 1),
			wantErr: []string{"rules.yaml:8: rule: unknown field \"mesage\""}},
		{name: "missing kinds", src: strings.Replace(validRule, "kinds: [Pod]", "namespaces: [a]", 1),
			wantErr: []string{"rules.yaml:6: rule no-default-sa: match.kinds: required"}},
		{name: "bad severity", src: strings.Replace(validRule, "severity: medium", "severity: urgent", 1),
			wantErr: []string{"rules.yaml:4: rule no-default-sa: severity: unknown severity \"urgent\""}},
		{name: "missing message", src: strings.Replace(validRule, "  message: the pod runs as the default ServiceAccount\n", "", 1),
			wantErr: []string{"rules.yaml:2: rule no-default-sa: message: required"}},
		{name: "bad variable name", src: `
- id: v
  title: t
  severity: low
  match: {kinds: [Pod]}
  variables: [{name: "1x", expression: "1"}]
  expression: "true"
  message: m
`, wantErr: []string{"rules.yaml:6: rule v: variables[0].name: \"1x\" is not a CEL identifier"}},
		{name: "bad variable expression", src: `
- id: v
  title: t
  severity: low
  match: {kinds: [Pod]}
  variables:
  - name: x
    expression: "1 +"
  expression: "true"
  message: m
`, wantErr: []string{"rules.yaml:8: rule v: variables[0].expression:"}},
		{name: "one bad rule keeps the good one", src: validRule + `
- id: other
  title: t
  severity: low
  match: {kinds: [Pod]}
  expression: nope
  message: m
`, wantIDs: []string{"no-default-sa"}, wantErr: []string{"rules.yaml:14: rule other: expression:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := celrules.Parse("rules.yaml", []byte(tt.src), celrules.Options{Reserved: reserved})
			var ids []string
			for _, r := range rules {
				ids = append(ids, r.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("rules %v, want %v", ids, tt.wantIDs)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			rest := msg
			for _, w := range tt.wantErr {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestLoadFilesDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(validRule), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := celrules.LoadFiles([]string{a, b}, celrules.Options{})
	if len(rules) != 1 || err == nil || !strings.Contains(err.Error(), b+":2: rule no-default-sa: duplicate id (first defined at "+a+":2)") {
		t.Fatalf("got %d rules, error %v", len(rules), err)
	}
	if _, err := celrules.LoadFiles([]string{filepath.Join(dir, "missing.yaml")}, celrules.Options{}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// decode reads the objects of a YAML file.
func decode(t testing.TB, path string) []*k8s.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*k8s.Object
	load.Decode(load.Unit{Path: path}, data, load.DefaultLimits, func(o *k8s.Object) { objs = append(objs, o) })
	return objs
}

// TestExampleRules evaluates the example rule file on fixtures: each
// fixture object names, in the annotation rampart.dev/test-fails, the rules
// it must fail (comma-separated, empty when it passes all that apply).
func TestExampleRules(t *testing.T) {
	rules, err := celrules.LoadFiles([]string{filepath.Join("..", "..", "examples", "rules", "rules.yaml")}, celrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctls := celrules.Controls(rules)
	objs := decode(t, filepath.Join("testdata", "objects.yaml"))
	if len(objs) < 6 {
		t.Fatalf("%d fixture objects", len(objs))
	}
	for _, obj := range objs {
		t.Run(obj.Kind()+"/"+obj.Name(), func(t *testing.T) {
			var got []string
			for _, c := range ctls {
				if !c.Applies(obj) {
					continue
				}
				ctx := &control.Context{Obj: obj, Settings: &control.Settings{}}
				c.Check(ctx)
				for _, v := range ctx.Violations {
					got = append(got, c.ID+": "+v.Message)
				}
			}
			want := obj.Annotations()["rampart.dev/test-fails"]
			if g := strings.Join(got, " | "); g != want {
				t.Errorf("failures\n  %q\nwant\n  %q", g, want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		obj     map[string]any
		wantErr string
		isCost  bool
	}{
		{name: "missing field", expr: "object.spec.replicas > 1", obj: map[string]any{"spec": map[string]any{}}, wantErr: "no such key: replicas"},
		{name: "type error", expr: "object.spec.replicas > 1", obj: map[string]any{"spec": map[string]any{"replicas": "three"}}, wantErr: "no such overload"},
		{name: "cost limit exceeded", expr: "lists.range(2000).all(i, lists.range(2000).all(j, i + j >= 0))", obj: map[string]any{}, wantErr: "cost limit exceeded", isCost: true},
		{name: "nested comprehensions over the object", expr: "object.items.all(a, object.items.all(b, object.items.all(c, a + b + c >= 0)))",
			obj: map[string]any{"items": func() []any {
				out := make([]any, 300)
				for i := range out {
					out[i] = int64(i)
				}
				return out
			}()}, wantErr: "cost limit exceeded", isCost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := celrules.Compile(nil, []celrules.Validation{{Expression: tt.expr, Message: "m"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Eval(tt.obj)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if errors.Is(err, celrules.ErrCostLimit) != tt.isCost {
				t.Errorf("errors.Is(ErrCostLimit) = %v", !tt.isCost)
			}
		})
	}
}

// TestCheckErrorIsRecoverable: an evaluation error panics with an
// *EvalError, which the engine turns into an error finding.
func TestCheckErrorIsRecoverable(t *testing.T) {
	rules, err := celrules.Parse("r.yaml", []byte(strings.Replace(validRule, "object.spec.?serviceAccountName.orValue('default')", "object.spec.serviceAccountName", 1)), celrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := rules[0].Control()
	obj := k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}, "spec": map[string]any{}}, k8s.Source{File: "p.yaml"})
	defer func() {
		r := recover()
		ee, ok := r.(*celrules.EvalError)
		if !ok || ee.Rule != "no-default-sa" || !strings.Contains(ee.Error(), "no such key: serviceAccountName") {
			t.Fatalf("recovered %v", r)
		}
	}()
	c.Check(&control.Context{Obj: obj})
	t.Fatal("no panic")
}

func TestControlMatch(t *testing.T) {
	rules, err := celrules.Parse("r.yaml", []byte(`
- id: only-apps-in-prod
  title: t
  severity: low
  match: {kinds: [Deployment], apiGroups: [apps], namespaces: [prod]}
  expression: "false"
  message: m
`), celrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := rules[0].Control()
	mk := func(apiVersion, kind, ns string) *k8s.Object {
		return k8s.NewObject(map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": "x", "namespace": ns}}, k8s.Source{})
	}
	for _, tt := range []struct {
		obj  *k8s.Object
		want bool
	}{
		{mk("apps/v1", "Deployment", "prod"), true},
		{mk("apps/v1", "Deployment", "dev"), false},
		{mk("extensions/v1beta1", "Deployment", "prod"), false},
		{mk("v1", "Pod", "prod"), false},
	} {
		if got := c.Applies(tt.obj); got != tt.want {
			t.Errorf("%s %s in %s: applies %v, want %v", tt.obj.APIVersion(), tt.obj.Kind(), tt.obj.Namespace(), got, tt.want)
		}
	}
	if c.Category != celrules.Category || c.Severity != control.SeverityLow {
		t.Errorf("metadata %+v", c.Metadata)
	}
}

// TestEngineErrorFinding: a rule that cannot be evaluated on an object
// becomes an error verdict of the engine, and a passing or failing rule a
// normal one.
func TestEngineErrorFinding(t *testing.T) {
	rules, err := celrules.Parse("r.yaml", []byte(`
- id: strict-sa
  title: t
  severity: high
  match: {kinds: [Pod]}
  expression: object.spec.serviceAccountName != 'default'
  message: default service account
`), celrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(celrules.Controls(rules))
	pod := func(spec map[string]any) *k8s.Object {
		return k8s.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}, "spec": spec}, k8s.Source{File: "p.yaml"})
	}
	for _, tt := range []struct {
		spec       map[string]any
		wantStatus string
		wantMsg    string
	}{
		{spec: map[string]any{}, wantStatus: string(control.StatusError), wantMsg: "no such key: serviceAccountName"},
		{spec: map[string]any{"serviceAccountName": "default"}, wantStatus: string(control.StatusFail), wantMsg: "default service account"},
		{spec: map[string]any{"serviceAccountName": "app"}},
	} {
		vs := eng.Evaluate(pod(tt.spec))
		if tt.wantStatus == "" {
			if len(vs) != 0 {
				t.Errorf("%v: verdicts %+v", tt.spec, vs)
			}
			continue
		}
		if len(vs) != 1 || string(vs[0].Status) != tt.wantStatus || !strings.Contains(vs[0].Violation.Message, tt.wantMsg) || vs[0].Severity != control.SeverityHigh {
			t.Errorf("%v: verdicts %+v, want %s %q", tt.spec, vs, tt.wantStatus, tt.wantMsg)
		}
	}
}
