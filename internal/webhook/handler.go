// Package webhook is Rampart's validating admission webhook: the same
// control engine as scans, evaluated on one object per AdmissionReview.
//
// A request goes through a chain of small handlers, outermost first:
//
//	Recover → Measure → Timeout → Filter → Evaluate (→ respond)
//
// ServeHTTP decodes the AdmissionReview (bounded body) and encodes the
// response. Recover answers a request whose handling panicked (allowed,
// logged, counted) instead of dropping it. Measure records latency and
// decisions. Timeout answers before the API server gives up (allowed, or
// denied with FailClosed). Filter allows at once what the webhook does not
// judge (exempt namespaces, users and groups; kinds no control reads;
// deletions) and resolves the namespace's modes from its labels. Evaluate
// decodes the object, runs engine.Evaluate and turns the verdicts into the
// response: enforce denies with a message naming each control, the field
// and the fix; warn allows with warnings (kubectl prints them); audit
// allows and records the verdict in the log and the metrics. Dry-run
// requests are evaluated and answered the same way but never recorded.
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// Request is one admission request and what the chain learns about it.
type Request struct {
	*admissionv1.AdmissionRequest
	// Modes are the namespace's modes, set by Filter.
	Modes Modes
}

// Handler answers one admission request.
type Handler func(ctx context.Context, r *Request) *admissionv1.AdmissionResponse

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain applies middlewares to h, the first outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Evaluator runs the per-object controls on one object (engine.Engine).
type Evaluator interface {
	Evaluate(obj *k8s.Object) []engine.Verdict
}

// RelatedEvaluator also runs the cross-object controls over an object and
// the objects around it (engine.Engine).
type RelatedEvaluator interface {
	EvaluateWith(obj *k8s.Object, related []*k8s.Object) []engine.Verdict
}

// Related returns the objects of a namespace that cross-object controls
// read about an admitted Service or Ingress: its pod-bearing workloads and
// Services.
type Related func(ctx context.Context, namespace string) ([]*k8s.Object, error)

// RelatedKinds are the kinds evaluated with their related objects.
var RelatedKinds = map[string]bool{"Service": true, "Ingress": true}

// NamespaceLabels returns a namespace's labels; ok is false when the
// namespace is unknown (the cluster defaults then apply).
type NamespaceLabels func(name string) (labels map[string]string, ok bool)

// allow is the response that admits a request.
func allow(r *Request, warnings ...string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: r.UID, Allowed: true, Warnings: warnings}
}

// deny is the response that rejects a request with msg.
func deny(r *Request, msg string, warnings ...string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: r.UID, Allowed: false, Warnings: warnings,
		Result: &metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden, Message: msg}}
}

// Recover answers a request whose handling panicked: allowed, with a
// warning, logged and counted, so that a bug never drops a request.
func Recover(log *slog.Logger, m *Metrics) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) (resp *admissionv1.AdmissionResponse) {
			defer func() {
				if p := recover(); p != nil {
					resp = recovered(log, m, r, p)
				}
			}()
			return next(ctx, r)
		}
	}
}

// recovered logs and counts a panic and allows the request.
func recovered(log *slog.Logger, m *Metrics, r *Request, p any) *admissionv1.AdmissionResponse {
	m.panics.Inc()
	log.Error("admission request panicked; allowed", "uid", r.UID, "kind", r.Kind.Kind, "namespace", r.Namespace, "name", r.Name, "panic", fmt.Sprint(p))
	return allow(r, "rampart: internal error while evaluating this object; it was allowed")
}

// Measure records each request's latency and decision.
func Measure(m *Metrics) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
			start := time.Now()
			resp := next(ctx, r)
			decision := "allowed"
			if !resp.Allowed {
				decision = "denied"
			}
			m.requests.WithLabelValues(r.Kind.Kind, string(r.Operation), decision).Inc()
			m.latency.Observe(time.Since(start).Seconds())
			return resp
		}
	}
}

// Timeout answers when next has not answered within d: allowed with a
// warning, or denied when failClosed. The evaluation is abandoned; its
// result is discarded.
func Timeout(d time.Duration, failClosed bool, log *slog.Logger, m *Metrics) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			done := make(chan *admissionv1.AdmissionResponse, 1)
			go func() {
				defer func() {
					if p := recover(); p != nil {
						done <- recovered(log, m, r, p)
					}
				}()
				done <- next(ctx, r)
			}()
			select {
			case resp := <-done:
				return resp
			case <-ctx.Done():
				m.timeouts.Inc()
				log.Warn("admission request timed out", "uid", r.UID, "kind", r.Kind.Kind, "namespace", r.Namespace, "name", r.Name, "after", d, "failClosed", failClosed)
				if failClosed {
					return deny(r, fmt.Sprintf("rampart: evaluation did not finish within %s (fail-closed)", d))
				}
				return allow(r, fmt.Sprintf("rampart: evaluation did not finish within %s; allowed (fail-open)", d))
			}
		}
	}
}

// JudgedKinds are the kinds the webhook evaluates: every pod-bearing kind,
// RBAC objects, Services and Ingresses. Requests for other kinds are
// allowed at once.
var JudgedKinds = map[string]bool{
	"Pod": true, "Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
	"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true,
	"Service": true, "Ingress": true,
}

// Filter allows at once what the webhook does not judge and sets the
// request's modes.
func Filter(p *Policy, nsLabels NamespaceLabels, log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
			if r.Operation == admissionv1.Delete || r.Operation == admissionv1.Connect || len(r.Object.Raw) == 0 || !JudgedKinds[r.Kind.Kind] {
				return allow(r)
			}
			if r.SubResource != "" {
				return allow(r) // status, scale, exec…: no control reads them
			}
			if why := p.Exempt(r.Namespace, r.UserInfo.Username, r.UserInfo.Groups); why != "" {
				return allow(r)
			}
			r.Modes = p.Default
			if r.Namespace != "" && nsLabels != nil {
				if labels, ok := nsLabels(r.Namespace); ok {
					m, err := p.ModesFor(labels)
					if err != nil {
						log.Warn("ignoring invalid rampart labels", "namespace", r.Namespace, "error", err)
					}
					r.Modes = m
				}
			}
			return next(ctx, r)
		}
	}
}

// Evaluate is the innermost handler: it decodes the object, evaluates it
// and builds the response.
//
// With related set and ev a RelatedEvaluator, Services and Ingresses are
// evaluated with their namespace's workloads and Services, so that
// cross-object controls (dashboard-exposed) apply at admission; when the
// related objects cannot be read the per-object controls still apply.
//
// With images set, the images of pod-bearing objects are also held to the
// signature policy; its violations are always enforced.
func Evaluate(ev Evaluator, related Related, images *ImagePolicy, p *Policy, log *slog.Logger, m *Metrics) Handler {
	rev, _ := ev.(RelatedEvaluator)
	return func(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
		var content map[string]any
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(r.Object.Raw, &content); err != nil || content == nil {
			// The API server sends valid JSON; this is not ours to judge.
			log.Warn("admission object does not decode; allowed", "uid", r.UID, "kind", r.Kind.Kind, "error", err)
			return allow(r)
		}
		if k8s.Str(content, "kind") == "" {
			content["kind"] = r.Kind.Kind
		}
		if md, ok := content["metadata"].(map[string]any); ok && k8s.Str(md, "namespace") == "" && r.Namespace != "" {
			md["namespace"] = r.Namespace // not yet defaulted on create
		}
		obj := k8s.NewObject(content, k8s.Source{File: "admission"})
		var verdicts []engine.Verdict
		if rev != nil && related != nil && RelatedKinds[r.Kind.Kind] && r.Namespace != "" {
			objs, err := related(ctx, r.Namespace)
			if err != nil {
				log.Warn("cannot read related objects; cross-object controls skipped", "namespace", r.Namespace, "error", err)
				verdicts = ev.Evaluate(obj)
			} else {
				verdicts = rev.EvaluateWith(obj, objs)
			}
		} else {
			verdicts = ev.Evaluate(obj)
		}
		if images != nil && k8s.IsPodBearing(r.Kind.Kind) {
			if vs := images.Check(ctx, r.Namespace, obj); len(vs) > 0 {
				verdicts = append(verdicts, images.judge(ev, obj, vs)...)
			}
		}
		if len(verdicts) == 0 {
			return allow(r)
		}
		record := r.DryRun == nil || !*r.DryRun
		var denials, warnings []string
		var records []violationRecord
		for _, v := range verdicts {
			mode := r.Modes.ModeOf(v.Control.ID, v.Severity)
			if (p.Enforced[v.Control.ID] || (images != nil && v.Control == images.unsigned)) && v.Status == control.StatusFail {
				mode = ModeEnforce
			}
			switch v.Status {
			case control.StatusExcepted:
				if record && mode != ModeNone {
					records = append(records, newRecord(v, mode))
				}
				continue
			case control.StatusError:
				warnings = append(warnings, limit(fmt.Sprintf("rampart: %s could not evaluate this object: %s", v.Control.ID, v.Violation.Message)))
				continue
			}
			if mode == ModeNone {
				continue
			}
			if record {
				m.violations.WithLabelValues(v.Control.ID, mode.String()).Inc()
				records = append(records, newRecord(v, mode))
			}
			switch mode {
			case ModeEnforce:
				denials = append(denials, denial(v))
			case ModeWarn:
				warnings = append(warnings, limit(warning(v)))
			}
		}
		if len(records) > 0 {
			// One record per request, not per violation: audit logging is
			// a quarter of the handler's time otherwise.
			log.LogAttrs(ctx, slog.LevelInfo, "admission violations",
				slog.String("uid", string(r.UID)), slog.String("kind", r.Kind.Kind), slog.String("namespace", r.Namespace),
				slog.String("name", r.Name), slog.String("user", r.UserInfo.Username), slog.String("operation", string(r.Operation)),
				slog.Any("violations", records))
		}
		if len(warnings) > maxWarnings {
			warnings = append(warnings[:maxWarnings-1], fmt.Sprintf("rampart: and %d more warnings", len(warnings)-maxWarnings+1))
		}
		if len(denials) > 0 {
			msg := fmt.Sprintf("rampart denied %s %s: %d %s of enforced controls:\n%s", r.Kind.Kind, objName(r), len(denials),
				plural(len(denials), "violation", "violations"), strings.Join(denials, "\n"))
			return deny(r, msg, warnings...)
		}
		return allow(r, warnings...)
	}
}

// maxWarnings bounds the warnings of one response, and maxWarningLen each
// one: the API server drops what exceeds its own limits.
const (
	maxWarnings   = 20
	maxWarningLen = 512
)

func denial(v engine.Verdict) string {
	s := "- " + v.Control.ID
	if v.Violation.Path != "" {
		s += " at " + v.Violation.Path
	}
	s += ": " + v.Violation.Message
	if fix := FixHint(v.Control.Remediation); fix != "" {
		s += " Fix: " + fix
	}
	return s
}

func warning(v engine.Verdict) string {
	s := "rampart: " + v.Control.ID
	if v.Violation.Path != "" {
		s += " at " + v.Violation.Path
	}
	return s + ": " + v.Violation.Message
}

// FixHint returns the first sentence of a control's remediation, without
// Markdown code, for one-line messages.
func FixHint(remediation string) string {
	text, _, _ := strings.Cut(remediation, "```")
	text = strings.Join(strings.Fields(text), " ")
	text = strings.TrimRight(text, ": ")
	if i := strings.Index(text, ". "); i >= 0 {
		text = text[:i+1]
	}
	if len(text) > 0 && !strings.HasSuffix(text, ".") {
		text += "."
	}
	return limit(text)
}

func limit(s string) string {
	if len(s) <= maxWarningLen {
		return s
	}
	cut := maxWarningLen - 3
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}

func objName(r *Request) string {
	name := r.Name
	if name == "" {
		name = "(generated name)"
	}
	if r.Namespace != "" {
		return r.Namespace + "/" + name
	}
	return name
}

// violationRecord is one violation in the audit log.
type violationRecord struct {
	Control   string `json:"control"`
	Severity  string `json:"severity"`
	Mode      string `json:"mode"`
	Path      string `json:"path,omitempty"`
	Message   string `json:"message"`
	Exception string `json:"exception,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func newRecord(v engine.Verdict, mode Mode) violationRecord {
	rec := violationRecord{Control: v.Control.ID, Severity: v.Severity.String(), Mode: mode.String(), Path: v.Violation.Path, Message: v.Violation.Message}
	if v.Exception != nil {
		rec.Exception, rec.Reason = v.Exception.Source, v.Exception.Reason
	}
	return rec
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
