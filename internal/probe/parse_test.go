package probe

import (
	"testing"
)

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		iMeanIt bool
		n       int
		first   Target
		err     bool
	}{
		{"ip", []string{"10.0.0.1"}, false, 1, Target{Host: "10.0.0.1"}, false},
		{"host", []string{"node-1.example.internal"}, false, 1, Target{Host: "node-1.example.internal"}, false},
		{"host:port", []string{"10.0.0.1:10250"}, false, 1, Target{Host: "10.0.0.1", Port: 10250}, false},
		{"url", []string{"https://127.0.0.1:6443/ignored"}, false, 1, Target{Host: "127.0.0.1", Port: 6443, Scheme: "https"}, false},
		{"url default port", []string{"http://h"}, false, 1, Target{Host: "h", Port: 80, Scheme: "http"}, false},
		{"/24 without ends", []string{"127.0.1.0/24"}, false, 254, Target{Host: "127.0.1.1"}, false},
		{"/32", []string{"10.1.2.3/32"}, false, 1, Target{Host: "10.1.2.3"}, false},
		{"/16 allowed", []string{"10.1.0.0/16"}, false, 65534, Target{Host: "10.1.0.1"}, false},
		{"/15 refused", []string{"10.0.0.0/15"}, false, 0, Target{}, true},
		{"/15 with i-mean-it", []string{"10.0.0.0/15"}, true, 131070, Target{Host: "10.0.0.1"}, false},
		{"/7 refused even so", []string{"10.0.0.0/7"}, true, 0, Target{}, true},
		{"ipv6 /120", []string{"fd00::/120"}, false, 256, Target{Host: "fd00::"}, false},
		{"ipv6 /64 refused", []string{"fd00::/64"}, false, 0, Target{}, true},
		{"credentials refused", []string{"https://user:pw@h:6443"}, false, 0, Target{}, true},
		{"bad scheme", []string{"ftp://h"}, false, 0, Target{}, true},
		{"bad port", []string{"h:99999"}, false, 0, Target{}, true},
		{"bad host", []string{"a b"}, false, 0, Target{}, true},
		{"empty", []string{""}, false, 0, Target{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTargets(tc.args, tc.iMeanIt)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if len(ts) != tc.n || ts[0] != tc.first {
				t.Errorf("got %d targets, first %+v; want %d, %+v", len(ts), ts[0], tc.n, tc.first)
			}
		})
	}
}

// FuzzParsers runs every response parser on arbitrary bodies: none may
// panic, and evidence stays one short line.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		podListJSON,
		`{"kind":"SelfSubjectRulesReview","status":{"resourceRules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]}}`,
		`{"kind":"Status","code":401}`, `{"etcdserver":"3.6.16","etcdcluster":"3.6.0"}`, `{"header":{"cluster_id":"1"},"count":"42"}`,
		`{"items":[{"spec":{"containers":[{"securityContext":{"privileged":null}}]}}]}`, `[`, `{"code":16}`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var (
			pl podList
			rr rulesReview
			vi versionInfo
			ks kubeStatus
			av apiVersions
			ev etcdVersion
			er etcdRange
			dv dockerVersion
			ds dashboardSkippable
			dm dashboardModes
			ge grpcError
			lm listMeta
		)
		for _, v := range []any{&pl, &rr, &vi, &ks, &av, &ev, &er, &dv, &ds, &dm, &ge, &lm} {
			decode(b, v)
		}
		_ = privilegedContainers(&pl)
		_, _ = dangerousRules(&rr)
		if c := clip(string(b), 80); len(c) > 80+len("…") {
			t.Fatalf("clip: %d bytes", len(c))
		}
		_, _ = kubeletRefusal(&response{status: 401, body: b})
	})
}

// FuzzParseTargets: no panic, and no CIDR beyond the cap expands.
func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "https://h:6443", "h:1", "::1", "fd00::/120", "0.0.0.0/0", "[::1]:80", "http://[::1]:8080"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTargets([]string{s}, false)
		if err == nil && len(ts) > MaxPrefixHosts {
			t.Fatalf("%q: %d targets", s, len(ts))
		}
	})
}
