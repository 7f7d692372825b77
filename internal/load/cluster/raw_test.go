package cluster

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// apiServer is a stand-in for the LIST endpoints of an API server: each
// path answers pages of its items (by the limit and continue parameters)
// or the status a test sets.
type apiServer struct {
	mu       sync.Mutex
	items    map[string][]map[string]any // by path
	statuses map[string]int              // by path; answers a metav1.Status
	raw      map[string]string           // by path; answers this body as JSON
	requests []string                    // "path?query"
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.Path+"?"+r.URL.RawQuery)
	items, code, raw := s.items[r.URL.Path], s.statuses[r.URL.Path], s.raw[r.URL.Path]
	s.mu.Unlock()
	if r.Header.Get("Accept") != "application/json" {
		http.Error(w, "accept "+r.Header.Get("Accept"), http.StatusNotAcceptable)
		return
	}
	if code == 0 && r.URL.Query().Get("continue") == "expired" {
		code = http.StatusGone
	}
	if raw != "" && code == 0 {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(raw))
		return
	}
	if code != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		reason := map[int]metav1.StatusReason{http.StatusForbidden: metav1.StatusReasonForbidden, http.StatusGone: metav1.StatusReasonExpired, http.StatusNotFound: metav1.StatusReasonNotFound}[code]
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Code: int32(code), Reason: reason, Message: fmt.Sprintf("%s %s\nsecond line", reason, r.URL.Path)})
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	start, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	end := len(items)
	if limit > 0 {
		end = min(start+limit, len(items))
	}
	md := map[string]any{"resourceVersion": "100"}
	if end < len(items) {
		md["continue"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "List", "apiVersion": "v1", "metadata": md, "items": items[start:end]})
}

// newRawClient returns a Client whose full objects come from a TLS
// apiServer holding fixture() (Secrets and discovery as in newClient).
func newRawClient(t *testing.T) (*Client, *apiServer) {
	t.Helper()
	s := &apiServer{items: map[string][]map[string]any{}, statuses: map[string]int{}, raw: map[string]string{}}
	base, _, _ := newClient(t, nil, secret("shop", "default-token-abc", nil))
	for _, o := range fixture() {
		content := o.(*unstructured.Unstructured).Object
		item := map[string]any{}
		for k, v := range content {
			if k != "kind" && k != "apiVersion" { // as a LIST sends them
				item[k] = v
			}
		}
		kind := content["kind"].(string)
		for _, r := range Resources {
			if r.Kind == kind {
				p := base.path(r, r.Versions[0], "")
				s.items[p] = append(s.items[p], item)
			}
		}
	}
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL, QPS: 1000, Burst: 2000, TLSClientConfig: rest.TLSClientConfig{CAData: certPEM(t, srv)}}
	c, err := New(cfg, "kind-test")
	if err != nil {
		t.Fatal(err)
	}
	c.Probe, c.Discovery, c.Metadata = nil, allGroups, base.Metadata
	return c, s
}

// dynamicOnly returns a copy of c that lists full objects through the
// dynamic client, as before the raw path.
func dynamicOnly(c *Client) *Client {
	d := *c
	d.REST = nil
	return &d
}

func TestLoadRaw(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		setup      func(s *apiServer)
		want       []string // a subset of the objects
		wantErrors []string // prefixes
	}{
		{
			name: "pages of 2, controller-owned objects dropped",
			opts: Options{PageSize: 2},
			want: []string{"ClusterRole//reader", "CronJob/shop/nightly", "Deployment/shop/web",
				"Namespace//kube-system", "Namespace//shop",
				"Pod/kube-system/coredns", "Pod/shop/debug", "ReplicaSet/shop/rollout-1",
				"Secret/shop/default-token-abc", "Service/shop/web"},
		},
		{
			name: "forbidden kind",
			setup: func(s *apiServer) {
				s.statuses["/apis/rbac.authorization.k8s.io/v1/clusterroles"] = http.StatusForbidden
			},
			want:       []string{"Deployment/shop/web"},
			wantErrors: []string{"SERVER/apis/rbac.authorization.k8s.io/v1/clusterroles: cannot list ClusterRole: forbidden: Forbidden /apis/rbac.authorization.k8s.io/v1/clusterroles second line"},
		},
		{
			name:       "not found",
			setup:      func(s *apiServer) { s.statuses["/api/v1/services"] = http.StatusNotFound },
			want:       []string{"Deployment/shop/web"},
			wantErrors: []string{"SERVER/api/v1/services: cannot list Service: notfound: "},
		},
		{
			name: "expired continue token",
			opts: Options{PageSize: 1},
			setup: func(s *apiServer) {
				s.raw["/api/v1/namespaces"] = `{"kind":"NamespaceList","metadata":{"continue":"expired"},"items":[]}`
			},
			want:       []string{"Deployment/shop/web"},
			wantErrors: []string{"SERVER/api/v1/namespaces: cannot list Namespace: expired: Expired /api/v1/namespaces second line"},
		},
		{
			name: "malformed page",
			setup: func(s *apiServer) {
				s.raw["/apis/apps/v1/deployments"] = `{"kind":"DeploymentList","items":[{"metadata":{"name":"x"}},`
			},
			want:       []string{"Pod/shop/debug"},
			wantErrors: []string{"SERVER/apis/apps/v1/deployments: cannot list Deployment: decoding the list: invalid JSON at byte 60: unexpected end of JSON input"},
		},
		{
			name:       "items not objects",
			setup:      func(s *apiServer) { s.raw["/apis/apps/v1/deployments"] = `{"items":["x"]}` },
			want:       []string{"Pod/shop/debug"},
			wantErrors: []string{"SERVER/apis/apps/v1/deployments: cannot list Deployment: decoding the list: invalid JSON at byte 10: item 0 must be an object"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newRawClient(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			got, byKey, errs, err := collect(t, c, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%s missing from %q", w, got)
				}
			}
			if len(errs) != len(tt.wantErrors) {
				t.Fatalf("errors %v, want %q", errs, tt.wantErrors)
			}
			for i, e := range errs {
				want := strings.ReplaceAll(tt.wantErrors[i], "SERVER", c.Server)
				if s := e.Error(); !strings.HasPrefix(s, want) || strings.Contains(s, "\n") {
					t.Errorf("error %q, want prefix %q", s, want)
				}
			}
			// API errors read the same as through the dynamic client.
			_, _, dynErrs, err := collect(t, dynamicOnly(c), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tt.name, "page") && !strings.Contains(tt.name, "items") && !slices.Equal(errs, dynErrs) {
				t.Errorf("errors %q, through the dynamic client %q", errs, dynErrs)
			}
			for k, o := range byKey {
				md := o.Metadata()
				if k8s.Has(md, "managedFields") || k8s.Has(k8s.Map(md, "annotations"), "kubectl.kubernetes.io/last-applied-configuration") {
					t.Errorf("%s keeps managedFields or last-applied-configuration", k)
				}
				if o.APIVersion() == "" || o.Source.ResourceVersion != "7" && o.Kind() != "Secret" {
					t.Errorf("%s: apiVersion %q, source %+v", k, o.APIVersion(), o.Source)
				}
			}
			if tt.opts.PageSize == 2 {
				s.mu.Lock()
				defer s.mu.Unlock()
				if !slices.Contains(s.requests, "/api/v1/pods?continue=2&limit=2") {
					t.Errorf("no second page of pods requested: %q", s.requests)
				}
			}
		})
	}
}

func TestLoadRawCancel(t *testing.T) {
	c, _ := newRawClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Load(ctx, Options{}, func(*k8s.Object) {}, func(e load.InputError) { t.Errorf("error %v", e) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// certPEM returns the PEM of the test server's certificate.
func certPEM(t *testing.T, srv *httptest.Server) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
