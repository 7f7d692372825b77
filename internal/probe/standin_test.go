package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
)

// run probes targets with short timeouts and returns the outcome.
func run(t *testing.T, o Options, targets ...string) *Outcome {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = time.Second
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ParseTargets(targets, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return p.Run(ctx, ts)
}

// byCheck returns the results of check id.
func byCheck(out *Outcome, id string) []audit.Result {
	var rs []audit.Result
	for _, r := range out.Results {
		if r.Check.ID == id {
			rs = append(rs, r)
		}
	}
	return rs
}

// want asserts that check id has exactly one result with status st.
func want(t *testing.T, out *Outcome, id string, st control.Status) audit.Result {
	t.Helper()
	rs := byCheck(out, id)
	if len(rs) != 1 {
		t.Fatalf("%s: %d results, want 1; all: %s", id, len(rs), dump(out))
	}
	if rs[0].Status != st {
		t.Fatalf("%s: status %s (%s), want %s", id, rs[0].Status, rs[0].Message, st)
	}
	if rs[0].Target.Kind != "Endpoint" || rs[0].Source.File == "" {
		t.Fatalf("%s: target %+v source %+v", id, rs[0].Target, rs[0].Source)
	}
	return rs[0]
}

func dump(out *Outcome) string {
	var b strings.Builder
	for _, r := range out.Results {
		fmt.Fprintf(&b, "\n  %s %s %s: %s", r.Check.ID, r.Status, r.Target.Name, r.Message)
	}
	for _, e := range out.Errors {
		fmt.Fprintf(&b, "\n  error %s: %s", e.File, e.Message)
	}
	return b.String()
}

// Stand-ins answer like the real services (response shapes from their
// API documentation and source): only status codes, content types and
// the fields the probes read matter.

const podListJSON = `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[` +
	`{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"app","image":"nginx"}]}},` +
	`{"metadata":{"name":"agent","namespace":"kube-system"},"spec":{"containers":[{"name":"agent","securityContext":{"privileged":true}}]}}]}`

// kubeletStandIn answers like a kubelet: open (anonymous auth on,
// AlwaysAllow) or closed (anonymous auth off: plain-text 401).
func kubeletStandIn(open bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !open {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Unauthorized"))
			return
		}
		switch {
		case r.URL.Path == "/pods" || r.URL.Path == "/runningpods/":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(podListJSON))
		case strings.HasPrefix(r.URL.Path, "/exec/"):
			if r.Method != http.MethodGet || r.Header.Get("Upgrade") != "" {
				panic("stand-in: the probe must not ask for an upgrade")
			}
			http.Error(w, "pod does not exist", http.StatusNotFound)
		case r.URL.Path == "/healthz":
			_, _ = w.Write([]byte("ok"))
		case r.URL.Path == "/logs/":
			_, _ = w.Write([]byte("<pre>\n<a href=\"pods/\">pods/</a>\n</pre>\n"))
		case r.URL.Path == "/debug/pprof/cmdline":
			_, _ = w.Write([]byte("/usr/bin/kubelet\x00--config=/var/lib/kubelet/config.yaml"))
		default:
			http.NotFound(w, r)
		}
	})
}

func apiVersionsHandler(proxy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxy && strings.HasSuffix(r.URL.Path, "/exec") {
			// kubectl proxy's filter (--reject-paths default)
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api":
			_, _ = w.Write([]byte(`{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`))
		case "/version":
			_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2","platform":"linux/amd64"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
		}
	})
}

func dockerStandIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			_, _ = w.Write([]byte(`{"Platform":{"Name":"Docker Engine - Community"},"Version":"27.3.1","ApiVersion":"1.47","Os":"linux"}`))
		case "/containers/json":
			_, _ = w.Write([]byte(`[{"Id":"8dfafdbc3a40","Names":["/boring"]},{"Id":"9cd87474be90","Names":["/other"]}]`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"page not found"}`))
		}
	})
}

func dashboardStandIn(skip bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/login/modes":
			_, _ = w.Write([]byte(`{"modes":["token"]}`))
		case "/api/v1/login/skippable":
			_, _ = fmt.Fprintf(w, `{"skippable":%t}`, skip)
		case "/api/v1/namespace":
			if !skip {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`MSG_LOGIN_UNAUTHORIZED_ERROR`))
				return
			}
			_, _ = w.Write([]byte(`{"listMeta":{"totalItems":4},"namespaces":[]}`))
		default:
			http.NotFound(w, r)
		}
	})
}

func argoStandIn(serverMode bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !serverMode {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":16,"message":"token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/"}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/info":
			_, _ = w.Write([]byte(`{"managedNamespace":"argo","links":[],"navColor":""}`))
		case "/api/v1/workflows/":
			_, _ = w.Write([]byte(`{"metadata":{"resourceVersion":"1234"},"items":null}`))
		default:
			http.NotFound(w, r)
		}
	})
}

func hostPort(t *testing.T, raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return u.Hostname(), p
}

func TestKubeletStandIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   bool
		status control.Status
	}{
		{"anonymous AlwaysAllow", true, control.StatusFail},
		{"anonymous off", false, control.StatusPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(kubeletStandIn(tc.open))
			defer srv.Close()
			out := run(t, Options{Services: []string{"kubelet"}}, srv.URL)
			for _, id := range []string{"probe-kubelet-anonymous", "probe-kubelet-exec", "probe-kubelet-healthz", "probe-kubelet-system-logs", "probe-kubelet-cmdline"} {
				r := want(t, out, id, tc.status)
				if r.Evidence == nil || !strings.HasPrefix(r.Evidence.Value, "HTTP ") || r.Evidence.Origin != "response" {
					t.Errorf("%s evidence %+v", id, r.Evidence)
				}
			}
			if tc.open {
				r := want(t, out, "probe-kubelet-privileged-containers", control.StatusFail)
				if !strings.Contains(r.Message, "kube-system/agent/agent") {
					t.Errorf("message %q", r.Message)
				}
				if strings.Contains(dump(out), "config.yaml") {
					t.Error("the kubelet command line leaked into results")
				}
			}
		})
	}
}

func TestKubeletReadOnlyStandIn(t *testing.T) {
	srv := httptest.NewServer(kubeletStandIn(true))
	defer srv.Close()
	out := run(t, Options{}, srv.URL)
	r := want(t, out, "probe-kubelet-readonly-port", control.StatusFail)
	if r.Evidence.Value != "HTTP 200; .kind=PodList; .items=2" {
		t.Errorf("evidence %q", r.Evidence.Value)
	}
}

func TestHTTPStandIns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.Handler
		tls     bool
		id      string
		status  control.Status
		evident string
	}{
		{"DockerStandIn", dockerStandIn(), false, "probe-docker-api-exposed", control.StatusFail, "containers=2"},
		{"InsecurePortStandIn", apiVersionsHandler(false), false, "probe-apiserver-insecure-port", control.StatusFail, ".gitVersion=v1.37.2"},
		{"KubectlProxyStandIn", apiVersionsHandler(true), false, "probe-kubectl-proxy-exposed", control.StatusFail, ".kind=APIVersions"},
		{"DashboardStandIn skip-login", dashboardStandIn(true), true, "probe-dashboard-no-login", control.StatusFail, ".skippable=true"},
		{"DashboardStandIn token", dashboardStandIn(false), true, "probe-dashboard-no-login", control.StatusPass, "HTTP 401"},
		{"ArgoStandIn server mode", argoStandIn(true), true, "probe-argo-server-no-auth", control.StatusFail, "HTTP 200"},
		{"ArgoStandIn client mode", argoStandIn(false), true, "probe-argo-server-no-auth", control.StatusPass, "HTTP 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(tc.h)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			h, p := hostPort(t, srv.URL)
			// host:port, no scheme: the prober picks it by TLS handshake
			// and tries every service on this unknown port.
			out := run(t, Options{}, net.JoinHostPort(h, strconv.Itoa(p)))
			r := want(t, out, tc.id, tc.status)
			if len(out.Results) != 1 {
				t.Errorf("other probes identified the stand-in: %s", dump(out))
			}
			if r.Evidence == nil || !strings.Contains(r.Evidence.Value, tc.evident) {
				t.Errorf("evidence %+v, want %q", r.Evidence, tc.evident)
			}
			if r.Target.Name != strings.Replace(srv.URL, "127.0.0.1", h, 1) {
				t.Errorf("target %q, want %q", r.Target.Name, srv.URL)
			}
		})
	}
}

func TestMetadataStandIn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/latest/meta-data/":
			_, _ = w.Write([]byte("ami-id\niam/\ninstance-id\n"))
		case r.URL.Path == "/computeMetadata/v1/" && r.Header.Get("Metadata-Flavor") == "Google":
			w.WriteHeader(http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// Without --metadata nothing is sent there.
	out := run(t, Options{MetadataURL: srv.URL}, "127.0.0.1:1")
	if len(out.Results) != 0 {
		t.Fatalf("metadata probed without Metadata: %s", dump(out))
	}
	out = run(t, Options{Metadata: true, MetadataURL: srv.URL}, "127.0.0.1:1")
	want(t, out, "probe-cloud-metadata-aws", control.StatusFail)
	want(t, out, "probe-cloud-metadata-azure", control.StatusPass)
	want(t, out, "probe-cloud-metadata-gcp", control.StatusPass)
}
