package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
)

const privilegedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"nginx:1.27","securityContext":{"privileged":true}}]}}`

const hardenedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"h"},"spec":{"automountServiceAccountToken":false,
"securityContext":{"runAsNonRoot":true,"runAsUser":10001,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"app","image":"registry.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"1","memory":"128Mi"}},
"livenessProbe":{"httpGet":{"path":"/","port":8080}},"readinessProbe":{"httpGet":{"path":"/","port":8080}},
"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}]}}`

// newEngine builds the engine with every built-in control.
func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	reg, err := library.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var ctls []*control.Control
	for _, c := range reg.All() {
		if c.External == "" {
			ctls = append(ctls, c)
		}
	}
	return engine.New(ctls, engine.WithSettings(&control.Settings{AllowedRegistries: []string{"registry.example.com/"}}))
}

type panicky struct{}

func (panicky) Evaluate(*k8s.Object) []engine.Verdict { panic("boom") }

type slow struct{ d time.Duration }

func (s slow) Evaluate(*k8s.Object) []engine.Verdict { time.Sleep(s.d); return nil }

func review(kind, ns, object string, mutate ...func(*admissionv1.AdmissionRequest)) []byte {
	req := &admissionv1.AdmissionRequest{
		UID: types.UID("uid-1"), Kind: metav1.GroupVersionKind{Version: "v1", Kind: kind},
		Namespace: ns, Name: "p", Operation: admissionv1.Create,
		UserInfo: authnv1.UserInfo{Username: "alice", Groups: []string{"system:authenticated"}},
		Object:   runtime.RawExtension{Raw: []byte(object)},
	}
	for _, m := range mutate {
		m(req)
	}
	b, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	return b
}

func TestWebhook(t *testing.T) {
	labels := map[string]map[string]string{
		"enforce": {LabelEnforce: "high"},
		"pss":     {LabelEnforce: "pss-restricted"},
		"warn":    {LabelWarn: "high", LabelAudit: "off"},
		"audit":   {LabelAudit: "info", LabelWarn: "off"},
		"bad":     {LabelEnforce: "sometimes"},
	}
	nsLabels := func(name string) (map[string]string, bool) { l, ok := labels[name]; return l, ok }
	dry := true
	tests := []struct {
		name         string
		ev           Evaluator
		cfg          config.Webhook
		opts         Options
		body         []byte
		wantAllowed  bool
		wantMessage  []string // substrings of the denial message
		wantWarnings []string // substrings of some warning
		wantRecorded float64  // violations recorded (metric)
		wantPanics   float64
		wantTimeouts float64
	}{
		{name: "privileged pod denied in an enforce namespace", body: review("Pod", "enforce", privilegedPod),
			wantMessage: []string{"privileged-container", "spec.containers[0].securityContext.privileged", "Fix:"}, wantRecorded: 1},
		{name: "framework label enforces its controls", body: review("Pod", "pss", privilegedPod),
			wantMessage: []string{"privileged-container", "run-as-root"}},
		{name: "warn namespace allows with warnings", body: review("Pod", "warn", privilegedPod), wantAllowed: true,
			wantWarnings: []string{"rampart: privileged-container at spec.containers[0].securityContext.privileged"}},
		{name: "audit namespace allows and records", body: review("Pod", "audit", privilegedPod), wantAllowed: true},
		{name: "hardened pod allowed in an enforce namespace", body: review("Pod", "pss", hardenedPod), wantAllowed: true},
		{name: "kube-system is exempt", body: review("Pod", "kube-system", privilegedPod), cfg: config.Webhook{Enforce: "info"}, wantAllowed: true},
		{name: "exempt user", body: review("Pod", "enforce", privilegedPod), cfg: config.Webhook{ExemptUsers: []string{"alice"}}, wantAllowed: true},
		{name: "dry run answered but not recorded", body: review("Pod", "enforce", privilegedPod, func(r *admissionv1.AdmissionRequest) { r.DryRun = &dry }),
			wantMessage: []string{"privileged-container"}},
		{name: "invalid label falls back to the cluster default", body: review("Pod", "bad", privilegedPod), cfg: config.Webhook{Enforce: "critical"},
			wantMessage: []string{"privileged-container"}},
		{name: "privileged Deployment template denied", body: review("Deployment", "enforce",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.27","securityContext":{"privileged":true}}]}}}}`),
			wantMessage: []string{"spec.template.spec.containers[0].securityContext.privileged"}},
		{name: "cluster-admin binding denied by the cluster default", cfg: config.Webhook{Enforce: "critical"}, body: review("ClusterRoleBinding", "",
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"ci"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"ci"}]}`),
			wantMessage: []string{"cluster-admin-binding"}},
		{name: "latest tag denied when configured", cfg: config.Webhook{DenyLatestTag: true, Warn: "off", Audit: "off"},
			body:        review("Pod", "default", strings.Replace(hardenedPod, "registry.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "registry.example.com/app:latest", 1)),
			wantMessage: []string{"image-tag-latest"}},
		{name: "registry outside the allowed list denied when required", cfg: config.Webhook{RequireAllowedRegistries: true, Warn: "off", Audit: "off"},
			body:        review("Pod", "default", strings.Replace(hardenedPod, "registry.example.com/app", "evil.example.net/app", 1)),
			wantMessage: []string{"untrusted-registry"}},
		{name: "annotation exception allows", body: review("Pod", "enforce", strings.Replace(privilegedPod, `"name":"p"`,
			`"name":"p","annotations":{"rampart.dev/ignore":"privileged-container,untrusted-registry,privilege-escalation,run-as-root","rampart.dev/ignore-reason":"node agent"}`, 1)),
			cfg: config.Webhook{Enforce: "critical"}, wantAllowed: true},
		{name: "deletions are not judged", body: review("Pod", "enforce", privilegedPod, func(r *admissionv1.AdmissionRequest) { r.Operation = admissionv1.Delete }), wantAllowed: true},
		{name: "panicking evaluation is allowed", ev: panicky{}, body: review("Pod", "enforce", privilegedPod), wantAllowed: true,
			wantWarnings: []string{"internal error"}, wantPanics: 1},
		{name: "slow evaluation answered by the timeout (fail-open)", ev: slow{time.Second}, opts: Options{Timeout: 50 * time.Millisecond},
			body: review("Pod", "enforce", privilegedPod), wantAllowed: true, wantWarnings: []string{"fail-open"}, wantTimeouts: 1},
		{name: "slow evaluation denied by the timeout (fail-closed)", ev: slow{time.Second}, opts: Options{Timeout: 50 * time.Millisecond, FailClosed: true},
			body: review("Pod", "enforce", privilegedPod), wantMessage: []string{"fail-closed"}, wantTimeouts: 1},
	}
	eng := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.cfg, "rampart-system", framework.MustLoad())
			if err != nil {
				t.Fatal(err)
			}
			ev := tt.ev
			if ev == nil {
				ev = eng
			}
			var logs bytes.Buffer
			tt.opts.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			s := NewServer(ev, p, nsLabels, tt.opts)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(tt.body)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("response %s: %v", rec.Body, err)
			}
			resp := out.Response
			if resp.UID != "uid-1" {
				t.Errorf("uid %q", resp.UID)
			}
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v; response %+v", resp.Allowed, tt.wantAllowed, resp)
			}
			for _, want := range tt.wantMessage {
				if resp.Result == nil || !strings.Contains(resp.Result.Message, want) {
					t.Errorf("denial message lacks %q: %+v", want, resp.Result)
				}
			}
			for _, want := range tt.wantWarnings {
				if !strings.Contains(strings.Join(resp.Warnings, "\n"), want) {
					t.Errorf("warnings lack %q: %q", want, resp.Warnings)
				}
			}
			m := s.Metrics()
			if tt.wantRecorded > 0 {
				if got := value(t, m.violations.WithLabelValues("privileged-container", "enforce")); got != tt.wantRecorded {
					t.Errorf("recorded enforce violations of privileged-container = %v, want %v", got, tt.wantRecorded)
				}
			}
			if strings.Contains(tt.name, "dry run") && count(t, m, "rampart_webhook_violations_total") != 0 {
				t.Errorf("a dry run was recorded")
			}
			if strings.Contains(tt.name, "audit namespace") {
				if got := value(t, m.violations.WithLabelValues("privileged-container", "audit")); got != 1 {
					t.Errorf("audit violations = %v, want 1", got)
				}
				if !strings.Contains(logs.String(), `"mode":"audit"`) {
					t.Errorf("audit record not logged: %s", logs.String())
				}
			}
			if got := value(t, m.panics); got != tt.wantPanics {
				t.Errorf("panics = %v, want %v", got, tt.wantPanics)
			}
			if got := value(t, m.timeouts); got != tt.wantTimeouts {
				t.Errorf("timeouts = %v, want %v", got, tt.wantTimeouts)
			}
		})
	}
}

func TestServeHTTPBadInput(t *testing.T) {
	p, err := NewPolicy(config.Webhook{}, "rampart-system", framework.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(newEngine(t), p, nil, Options{})
	for _, tt := range []struct {
		name   string
		method string
		body   io.Reader
		want   int
	}{
		{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed},
		{"not JSON", http.MethodPost, strings.NewReader("\x00\x01garbage"), http.StatusBadRequest},
		{"no request", http.MethodPost, strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"too large", http.MethodPost, io.LimitReader(zeros{}, MaxReviewBytes+10), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(tt.method, "/validate", tt.body))
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if strings.Count(strings.TrimSpace(rec.Body.String()), "\n") > 0 {
				t.Errorf("error is not one line: %q", rec.Body)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestFixHint(t *testing.T) {
	for in, want := range map[string]string{
		"Set `privileged: false`. Privileged containers can do anything.\n```yaml\nx: y\n```":          "Set `privileged: false`.",
		"Remove the flags (skip-login defaults to false) and keep token authentication:\n```yaml\n```": "Remove the flags (skip-login defaults to false) and keep token authentication.",
		"": "",
	} {
		if got := FixHint(in); got != want {
			t.Errorf("FixHint(%q) = %q, want %q", in, got, want)
		}
	}
}

// value reads a counter.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// count returns the number of series of a metric family.
func count(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
