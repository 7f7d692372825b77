package detect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/interpreter"
)

// toyEvent is the event of the test source.
type toyEvent struct {
	Type, Verb, Resource, Sub, NS, User string
	Groups                              []string
}

var toySource = Source{
	Name: "audit",
	Declarations: []cel.EnvOption{
		cel.Variable("verb", cel.StringType),
		cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("ns", cel.StringType),
	},
	MatchFields: []string{"verbs", "resources", "subresources", "namespaces"},
	Facts: func(e any) Facts {
		ev := e.(*toyEvent)
		return Facts{Type: ev.Type, Verb: ev.Verb, Resource: ev.Resource, Subresource: ev.Sub, Namespace: ev.NS}
	},
	Activation: func(e any) interpreter.Activation {
		ev := e.(*toyEvent)
		groups := ev.Groups
		if groups == nil {
			groups = []string{}
		}
		a, _ := interpreter.NewActivation(map[string]any{
			"verb": ev.Verb, "ns": ev.NS,
			"user": map[string]any{"username": ev.User, "groups": groups},
		})
		return a
	},
}

const toyRules = `
- id: secret-read
  title: Secret read
  severity: high
  mitre: [T1552.007]
  source: audit
  match: {verbs: [get, list], resources: [secrets]}
  condition: '!user.username.startsWith("system:")'
  output: '${user.username} did ${verb} on secrets in ${ns} (groups ${user.groups}) $$5'
  dedupe: {keys: [user.username, ns], cooldown: 1m}
- id: any-anonymous
  title: Anonymous
  severity: medium
  mitre: [T1078]
  source: audit
  condition: user.username == "system:anonymous"
  output: anonymous ${verb}
- id: sensor-only
  title: Not compiled for audit
  severity: low
  mitre: [T1059]
  source: sensor
  condition: "true"
  output: x
`

func compileToy(t *testing.T, extra string) *RuleSet {
	t.Helper()
	rules, err := Parse("toy.yaml", []byte(toyRules+extra))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Compile(rules, toySource)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestEval(t *testing.T) {
	rs := compileToy(t, "")
	if got := len(rs.Rules()); got != 2 {
		t.Fatalf("compiled %d rules, want 2 (the sensor rule is for another source)", got)
	}
	tests := []struct {
		name string
		ev   toyEvent
		want []string
		out  string
	}{
		{"secret read by a user", toyEvent{Verb: "get", Resource: "secrets", NS: "prod", User: "alice", Groups: []string{"dev"}}, []string{"secret-read"}, "alice did get on secrets in prod (groups dev) $5"},
		{"secret read by the system", toyEvent{Verb: "get", Resource: "secrets", NS: "prod", User: "system:kube-controller-manager"}, nil, ""},
		{"prefilter: wrong verb", toyEvent{Verb: "delete", Resource: "secrets", NS: "prod", User: "alice"}, nil, ""},
		{"prefilter: wrong resource", toyEvent{Verb: "get", Resource: "configmaps", NS: "prod", User: "alice"}, nil, ""},
		{"every matching rule fires", toyEvent{Verb: "list", Resource: "secrets", NS: "x", User: "system:anonymous"}, []string{"any-anonymous"}, "anonymous list"},
		{"anonymous on pods", toyEvent{Verb: "get", Resource: "pods", User: "system:anonymous"}, []string{"any-anonymous"}, "anonymous get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := rs.Eval(&tt.ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.Rule.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("matched %v, want %v", ids, tt.want)
			}
			if len(ms) > 0 && ms[0].Output != tt.out {
				t.Errorf("output %q, want %q", ms[0].Output, tt.out)
			}
		})
	}
}

func TestEvalAllMatches(t *testing.T) {
	rs := compileToy(t, `
- id: secret-any
  title: Any secret access
  severity: low
  mitre: [T1552]
  source: audit
  match: {resources: [secrets]}
  condition: "true"
  output: secret ${verb}
`)
	ms, err := rs.Eval(&toyEvent{Verb: "get", Resource: "secrets", User: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Rule.ID != "secret-read" || ms[1].Rule.ID != "secret-any" {
		t.Fatalf("got %+v, want secret-read and secret-any", ms)
	}
}

func TestEvalErrorCounted(t *testing.T) {
	rs := compileToy(t, `
- id: bad-key
  title: Missing key
  severity: low
  mitre: [T1552]
  source: audit
  condition: user.missing == "x"
  output: never
`)
	ms, err := rs.Eval(&toyEvent{Verb: "get", Resource: "pods", User: "alice"}, nil)
	if err == nil || !strings.Contains(err.Error(), "rule bad-key") || len(ms) != 0 {
		t.Fatalf("matches %v, error %v: want no match and an error naming bad-key", ms, err)
	}
	for _, s := range rs.Stats() {
		if s.Rule == "bad-key" && s.Errors != 1 {
			t.Errorf("bad-key errors = %d, want 1", s.Errors)
		}
	}
}

func TestParseAndCompileErrors(t *testing.T) {
	base := "id: r\ntitle: T\nseverity: high\nmitre: [T1609]\nsource: audit\ncondition: 'true'\noutput: x\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", base + "condtion: x\n", "f.yaml:8: unknown field \"condtion\""},
		{"unknown match field", base + "match:\n  verb: [get]\n", "f.yaml:9: unknown field \"verb\""},
		{"unknown dedupe field", base + "dedupe: {key: [x]}\n", "f.yaml:8: unknown field \"key\""},
		{"bad severity", strings.Replace(base, "high", "urgent", 1), "f.yaml:3"},
		{"bad cooldown", base + "dedupe: {cooldown: soon}\n", "cooldown \"soon\""},
		{"not a rule", "42\n", "f.yaml:1: expected a rule"},
		{"bad CEL", strings.Replace(base, "'true'", "'verb =='", 1), "f.yaml:1: rule r: condition:"},
		{"non-bool condition", strings.Replace(base, "'true'", "verb", 1), "must be a bool expression"},
		{"unknown variable", strings.Replace(base, "'true'", "nope == 1", 1), "undeclared reference"},
		{"bad output", strings.Replace(base, "output: x", "output: '${verb'", 1), "output: unclosed"},
		{"bad id", strings.Replace(base, "id: r", "id: R_1", 1), "kebab-case"},
		{"missing mitre", strings.Replace(base, "mitre: [T1609]\n", "", 1), "mitre"},
		{"bad mitre", strings.Replace(base, "T1609", "X1", 1), "not a technique ID"},
		{"sensor field in audit rule", base + "match: {eventTypes: [exec]}\n", "match.eventTypes is not available"},
		{"bad source", strings.Replace(base, "source: audit", "source: kernel", 1), "source must be audit or sensor"},
		{"duplicate", base + "---\n" + base, "duplicate rule ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := Parse("f.yaml", []byte(tt.yaml))
			if err == nil {
				_, err = Compile(rules, toySource)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(tt.name, "duplicate") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	base, _ := Parse("base.yaml", []byte(toyRules))
	user, err := Parse("user.yaml", []byte("- id: any-anonymous\n  enabled: false\n- id: new-rule\n  title: New\n  severity: low\n  mitre: [T1078]\n  source: audit\n  condition: 'true'\n  output: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(base, user)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Compile(merged, toySource)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs.Rules() {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "secret-read,new-rule" {
		t.Fatalf("rules %s, want secret-read,new-rule", got)
	}
	if _, err := Merge(nil, append(user, user[1])); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("duplicate in overrides: error %v", err)
	}
}

func alertAt(key string, sec int) Alert {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := t0.Add(time.Duration(sec) * time.Second)
	return Alert{Rule: "r", Key: key, Time: ts, FirstSeen: ts, LastSeen: ts, Count: 1}
}

func TestDedupe(t *testing.T) {
	type step struct {
		offer  Alert
		tick   int // seconds; -1 = no tick
		counts []int
	}
	tests := []struct {
		name  string
		steps []step
		flush []int
	}{
		{"first emitted, repeats folded into the next after the cooldown", []step{
			{alertAt("a", 0), -1, []int{1}},
			{alertAt("a", 10), -1, nil},
			{alertAt("a", 20), -1, nil},
			{alertAt("a", 61), -1, []int{3}},
		}, nil},
		{"summary on tick when the cooldown ends", []step{
			{alertAt("a", 0), -1, []int{1}},
			{alertAt("a", 5), -1, nil},
			{Alert{}, 59, nil},
			{Alert{}, 60, []int{1}},
			{alertAt("a", 70), -1, []int{1}},
		}, nil},
		{"keys are separate", []step{
			{alertAt("a", 0), -1, []int{1}},
			{alertAt("b", 1), -1, []int{1}},
			{alertAt("a", 2), -1, nil},
		}, []int{1}},
		{"eviction emits a summary (max 2 keys)", []step{
			{alertAt("a", 0), -1, []int{1}},
			{alertAt("a", 1), -1, nil},
			{alertAt("b", 2), -1, []int{1}},
			{alertAt("c", 3), -1, []int{1, 1}},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeduper(time.Minute, nil, 2)
			for i, s := range tt.steps {
				var got []Alert
				if s.tick >= 0 {
					got = d.Tick(alertAt("", s.tick).Time)
				} else {
					got = d.Offer(s.offer)
				}
				var counts []int
				for _, a := range got {
					counts = append(counts, a.Count)
				}
				if !slicesEqual(counts, s.counts) {
					t.Fatalf("step %d: emitted counts %v, want %v", i, counts, s.counts)
				}
			}
			var counts []int
			for _, a := range d.Flush() {
				counts = append(counts, a.Count)
			}
			if !slicesEqual(counts, tt.flush) {
				t.Fatalf("flush: counts %v, want %v", counts, tt.flush)
			}
			if d.Len() != 0 {
				t.Fatalf("%d keys kept after flush", d.Len())
			}
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDispatcherJSONLines(t *testing.T) {
	var buf bytes.Buffer
	var got []Alert
	d := NewDispatcher(NewDeduper(time.Minute, nil, 0), []Sink{NewJSONLines("stdout", &buf)}, WithCollector(func(a Alert) { got = append(got, a) }), WithMetrics(NewMetrics()))
	for i := range 5 {
		a := alertAt("k", i)
		a.Severity, a.Source = "high", "audit"
		d.Alert(a)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || len(got) != 2 || got[0].Count != 1 || got[1].Count != 4 {
		t.Fatalf("emitted %d lines, %+v; want the first alert then a summary of 4", len(lines), got)
	}
	var a Alert
	if err := json.Unmarshal([]byte(lines[1]), &a); err != nil || a.Count != 4 {
		t.Fatalf("line %q: %v", lines[1], err)
	}
}

func TestDefaultsParse(t *testing.T) {
	for _, src := range []string{"audit", "sensor"} {
		if _, err := Defaults(src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestCostLimit stops a rule whose comprehension would run away: the event
// does not match and the error is counted.
func TestCostLimit(t *testing.T) {
	rs := compileToy(t, `
- id: runaway
  title: Runaway
  severity: low
  mitre: [T1499]
  source: audit
  condition: user.groups.all(a, user.groups.all(b, user.groups.all(c, a + b + c != "x")))
  output: never
`)
	groups := make([]string, 200)
	for i := range groups {
		groups[i] = strings.Repeat("g", i%7)
	}
	ms, err := rs.Eval(&toyEvent{Verb: "get", Resource: "pods", User: "u", Groups: groups}, nil)
	if err == nil || !strings.Contains(err.Error(), "runaway") || len(ms) != 0 {
		t.Fatalf("matches %v, error %v: want the cost limit to stop the rule", ms, err)
	}
}
