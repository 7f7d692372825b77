package auditlog

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/detect"
)

func defaultRules(t testing.TB) *detect.RuleSet {
	t.Helper()
	rules, err := detect.Defaults(SourceName)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDefaultRulesCompile(t *testing.T) {
	rs := defaultRules(t)
	if n := len(rs.Rules()); n < 12 {
		t.Fatalf("%d default rules, want at least 12", n)
	}
	for _, r := range rs.Rules() {
		if r.Remediation == "" || len(r.MITRE) == 0 {
			t.Errorf("rule %s lacks a remediation or MITRE techniques", r.ID)
		}
	}
}

// capturedLines returns the raw lines of testdata/captured.jsonl.
func capturedLines(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("testdata/captured.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxEventSize)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// sel picks captured events.
type sel struct {
	verb, resource, sub, name, user, ua, uri string
}

func (s sel) match(ev *Event) bool {
	return ev.Stage == "ResponseComplete" &&
		(s.verb == "" || ev.Verb == s.verb) &&
		(s.resource == "" || ev.Resource() == s.resource) &&
		(s.sub == "" || ev.Subresource() == s.sub) &&
		(s.name == "" || ev.Name() == s.name || strings.Contains(string(ev.RequestObject), `"name":"`+s.name+`"`)) &&
		(s.user == "" || ev.User.Username == s.user) &&
		(s.ua == "" || strings.HasPrefix(ev.UserAgent, s.ua)) &&
		(s.uri == "" || strings.HasPrefix(ev.RequestURI, s.uri))
}

// fakeLookup knows that a pod of shop runs as shop/reader.
type fakeLookup struct{ Lookup }

func (fakeLookup) PodServiceAccount(ns, sa string) bool { return ns == "shop" && sa == "reader" }

// TestRulesOnCapturedEvents holds every default rule to one real event
// that must fire it and one near miss that must not (events captured from
// kube-apiserver by TestLiveCluster).
func TestRulesOnCapturedEvents(t *testing.T) {
	lines := capturedLines(t)
	rs := defaultRules(t)
	const (
		admin  = "admin"
		reader = "system:serviceaccount:shop:reader"
	)
	tests := []struct {
		rule          string
		fire, nofire  sel
		wantInMessage string
	}{
		{"audit-pod-exec", sel{resource: "pods", sub: "exec", user: admin}, sel{resource: "pods", sub: "exec", user: "intern"}, "command id"},
		{"audit-pod-portforward", sel{resource: "pods", sub: "portforward", user: admin}, sel{resource: "pods", sub: "portforward", user: "intern"}, "port-forwarded"},
		{"audit-pod-privileged", sel{verb: "create", resource: "pods", name: "fire-priv"}, sel{verb: "create", resource: "pods", name: "nofire-plain"}, "hostPath /"},
		{"audit-pod-kube-system-non-system-user", sel{verb: "create", resource: "pods", name: "fire-ks"}, sel{verb: "create", resource: "pods", name: "nofire-ks"}, "alpine"},
		{"audit-cluster-admin-binding", sel{verb: "create", resource: "clusterrolebindings", name: "fire-crb"}, sel{verb: "create", resource: "clusterrolebindings", name: "nofire-crb"}, "User/mallory"},
		{"audit-wildcard-clusterrole", sel{verb: "create", resource: "clusterroles", name: "fire-wild"}, sel{verb: "create", resource: "clusterroles", name: "nofire-narrow"}, "verbs=*"},
		{"audit-secret-read-unusual", sel{verb: "get", resource: "secrets", name: "stripe-key", user: reader}, sel{verb: "get", resource: "secrets", name: "db-password", user: reader}, "billing"},
		{"audit-secret-read-unusual", sel{verb: "get", resource: "secrets", name: "stripe-key", user: reader}, sel{verb: "get", resource: "secrets", name: "missing", user: reader}, "stripe-key"},
		{"audit-anonymous-allowed", sel{user: "system:anonymous", uri: "/version"}, sel{user: "system:anonymous", resource: "secrets"}, "/version"},
		{"audit-serviceaccount-token-for-other", sel{resource: "serviceaccounts", sub: "token", user: admin, name: "reader"}, sel{resource: "serviceaccounts", sub: "token", user: reader}, "shop/reader"},
		{"audit-admission-webhook-changed", sel{verb: "delete", resource: "validatingwebhookconfigurations", name: "fire-vwc"}, sel{verb: "delete", resource: "validatingwebhookconfigurations", name: "nofire-missing"}, "deleted"},
		{"audit-networkpolicy-deleted", sel{verb: "delete", resource: "networkpolicies", name: "fire-np"}, sel{verb: "delete", resource: "networkpolicies", name: "nofire-np"}, "shop/fire-np"},
		{"audit-kubectl-from-pod", sel{user: reader, ua: "kubectl/"}, sel{user: reader, ua: "shop-api/"}, "kubectl"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.rule] = true
		for _, c := range []struct {
			name string
			s    sel
			want bool
		}{{"fires", tt.fire, true}, {"near miss", tt.nofire, false}} {
			t.Run(tt.rule+"/"+c.name, func(t *testing.T) {
				var found []*Event
				for _, l := range lines {
					ev := &Event{}
					if err := DecodeEvent(l, ev); err != nil {
						t.Fatal(err)
					}
					if c.s.match(ev) {
						found = append(found, ev)
					}
				}
				if len(found) == 0 {
					t.Fatalf("no captured event matches %+v (re-capture with TestLiveCluster -update?)", c.s)
				}
				if c.want {
					found = found[:1] // the first fires; near misses: none does
				}
				var got []detect.Alert
				disp := detect.NewDispatcher(nil, nil, detect.WithCollector(func(a detect.Alert) { got = append(got, a) }))
				det := NewDetector(rs, &Enricher{}, &Baseline{Allow: DefaultSecretReaders, PodServiceAccount: fakeLookup{}.PodServiceAccount}, disp, nil, nil)
				for _, ev := range found {
					if err := det.Process(ev, nil); err != nil {
						t.Fatalf("evaluation error: %v", err)
					}
				}
				var alert *detect.Alert
				for i := range got {
					if got[i].Rule == tt.rule {
						alert = &got[i]
					}
				}
				if (alert != nil) != c.want {
					t.Fatalf("rule %s fired=%v, want %v (alerts: %+v)", tt.rule, alert != nil, c.want, got)
				}
				if alert != nil && !strings.Contains(alert.Output, tt.wantInMessage) {
					t.Errorf("output %q lacks %q", alert.Output, tt.wantInMessage)
				}
			})
		}
	}
	for _, r := range rs.Rules() {
		if !covered[r.ID] {
			t.Errorf("default rule %s has no captured firing and near-miss event in this table", r.ID)
		}
	}
}

// TestCapturedStreamAlerts replays the whole capture through the default
// rules: no evaluation error, and exactly the expected rules fire (every
// rule at least once; nothing fires on the API server's own bootstrap).
func TestCapturedStreamAlerts(t *testing.T) {
	rs := defaultRules(t)
	var got []detect.Alert
	disp := detect.NewDispatcher(nil, nil, detect.WithCollector(func(a detect.Alert) { got = append(got, a) }))
	det := NewDetector(rs, nil, &Baseline{Allow: DefaultSecretReaders, PodServiceAccount: fakeLookup{}.PodServiceAccount}, disp, nil, nil)
	for i, l := range capturedLines(t) {
		ev := &Event{}
		if err := DecodeEvent(l, ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := det.Process(ev, nil); err != nil {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
	byRule := map[string]int{}
	for _, a := range got {
		byRule[a.Rule]++
		if a.Event["user"] == "system:apiserver" {
			t.Errorf("alert on the API server's own request: %s %s", a.Rule, a.Output)
		}
	}
	for _, r := range rs.Rules() {
		if byRule[r.ID] == 0 {
			t.Errorf("rule %s never fired on the capture", r.ID)
		}
	}
}
