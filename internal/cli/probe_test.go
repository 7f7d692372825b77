package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/report"
)

// dockerStandIn answers like the Docker Engine API on tcp://:2375.
func dockerStandIn() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			_, _ = w.Write([]byte(`{"Version":"27.3.1","ApiVersion":"1.47","Os":"linux"}`))
		case "/containers/json":
			_, _ = w.Write([]byte(`[]`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"page not found"}`))
		}
	}))
}

func TestProbeCommand(t *testing.T) {
	srv := dockerStandIn()
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stderr  string
		finding string
	}{
		{"docker stand-in found", []string{"probe", "-o", "json", srv.URL}, ExitFindings, "1 identified", "probe-docker-api-exposed"},
		{"fail-on critical still fails", []string{"probe", "-o", "json", "--fail-on", "critical", srv.URL}, ExitFindings, "", "probe-docker-api-exposed"},
		{"closed port", []string{"probe", "-o", "json", "127.0.0.1:1"}, ExitOK, "0 open", ""},
		{"no target", []string{"probe"}, ExitUsage, "at least one TARGET", ""},
		{"big CIDR", []string{"probe", "10.0.0.0/15"}, ExitUsage, "--i-mean-it", ""},
		{"bad port", []string{"probe", "--ports", "0", "h"}, ExitUsage, "--ports", ""},
		{"bad service", []string{"probe", "--services", "ftp", "h"}, ExitUsage, "unknown service", ""},
		{"bad format", []string{"probe", "-o", "xml", "h"}, ExitUsage, "unknown --format", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(tc.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
			if tc.code == ExitUsage {
				return
			}
			var res report.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("json report: %v\n%s", err, out.String())
			}
			if len(res.Frameworks) != 1 || res.Frameworks[0].ID != "kube-hunter" {
				t.Errorf("frameworks %+v", res.Frameworks)
			}
			if tc.finding == "" {
				if len(res.Findings) != 0 {
					t.Errorf("findings %+v", res.Findings)
				}
				return
			}
			if len(res.Findings) != 1 || res.Findings[0].Control != tc.finding || res.Findings[0].Evidence == nil ||
				res.Findings[0].Object.Kind != "Endpoint" || res.Findings[0].Object.Name != srv.URL {
				t.Errorf("findings %+v", res.Findings)
			}
		})
	}
}
