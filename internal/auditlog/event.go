package auditlog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
)

// Event is an audit.k8s.io/v1 Event, decoded for detection: the fields
// rules read, with the request and response objects kept as raw JSON and
// decoded only when a rule reads them. Field names follow
// k8s.io/apiserver/pkg/apis/audit/v1.Event.
type Event struct {
	// Level is None, Metadata, Request or RequestResponse.
	Level string `json:"level"`
	// AuditID identifies the request.
	AuditID string `json:"auditID"`
	// Stage is RequestReceived, ResponseStarted, ResponseComplete or Panic.
	Stage string `json:"stage"`
	// RequestURI is the request's URI.
	RequestURI string `json:"requestURI"`
	// Verb is the Kubernetes verb (get, list, watch, create, ...).
	Verb string `json:"verb"`
	// User is the authenticated user.
	User UserInfo `json:"user"`
	// ImpersonatedUser is the impersonated user, if any.
	ImpersonatedUser *UserInfo `json:"impersonatedUser,omitempty"`
	// SourceIPs are the client addresses.
	SourceIPs []string `json:"sourceIPs,omitempty"`
	// UserAgent is the client's user agent.
	UserAgent string `json:"userAgent,omitempty"`
	// ObjectRef is the object the request is about, if any.
	ObjectRef *ObjectRef `json:"objectRef,omitempty"`
	// ResponseStatus is the response's status (code, reason).
	ResponseStatus *Status `json:"responseStatus,omitempty"`
	// RequestObject is the request body (Request level and above).
	RequestObject jsoniter.RawMessage `json:"requestObject,omitempty"`
	// ResponseObject is the response body (RequestResponse level).
	ResponseObject jsoniter.RawMessage `json:"responseObject,omitempty"`
	// RequestReceivedTimestamp is when the request arrived (RFC 3339).
	RequestReceivedTimestamp string `json:"requestReceivedTimestamp,omitempty"`
	// StageTimestamp is when the stage was reached (RFC 3339).
	StageTimestamp string `json:"stageTimestamp,omitempty"`
	// RawAnnotations hold the authorizer's decision and reason, admission
	// annotations, etc., decoded on demand by Annotations.
	RawAnnotations jsoniter.RawMessage `json:"annotations,omitempty"`

	// usualReader is set by the Baseline for secret reads.
	usualReader *bool
	// objects caches decoded request and response objects.
	reqObj, respObj map[string]any
	reqErr, respErr error
	annotations     map[string]string
}

// UserInfo is an authenticated identity.
type UserInfo struct {
	// Username is the user's name.
	Username string `json:"username"`
	// UID is the user's UID.
	UID string `json:"uid,omitempty"`
	// Groups are the user's groups.
	Groups []string `json:"groups,omitempty"`
	// Extra holds authenticator-specific information (e.g. the pod name
	// of a bound ServiceAccount token).
	Extra map[string][]string `json:"extra,omitempty"`
}

// ObjectRef names the object of a request.
type ObjectRef struct {
	// Resource is the API resource (pods, secrets, ...).
	Resource string `json:"resource,omitempty"`
	// Namespace is the object's namespace.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name,omitempty"`
	// UID is the object's UID.
	UID string `json:"uid,omitempty"`
	// APIGroup is the API group ("" for core).
	APIGroup string `json:"apiGroup,omitempty"`
	// APIVersion is the API version.
	APIVersion string `json:"apiVersion,omitempty"`
	// ResourceVersion is the object's resource version.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Subresource is the subresource (exec, attach, token, ...).
	Subresource string `json:"subresource,omitempty"`
}

// Status is the response status of a request.
type Status struct {
	// Status is Success or Failure (may be empty).
	Status string `json:"status,omitempty"`
	// Message is a human-readable description.
	Message string `json:"message,omitempty"`
	// Reason is a machine-readable reason (Forbidden, NotFound, ...).
	Reason string `json:"reason,omitempty"`
	// Code is the HTTP status code.
	Code int32 `json:"code,omitempty"`
}

// EventList is an audit.k8s.io/v1 EventList, as the webhook backend posts
// it.
type EventList struct {
	// Kind is EventList.
	Kind string `json:"kind"`
	// APIVersion is audit.k8s.io/v1.
	APIVersion string `json:"apiVersion"`
	// Items are the events.
	Items []Event `json:"items"`
}

var codec = jsoniter.Config{EscapeHTML: false, ValidateJsonRawMessage: false, CaseSensitive: true}.Froze()

// MaxEventSize bounds one event (a line of a log file); the API server
// bounds request bodies at 3 MiB, and a RequestResponse event holds two.
const MaxEventSize = 8 << 20

// DecodeEvent decodes one event (one line of a JSON-lines audit log).
func DecodeEvent(data []byte, ev *Event) error {
	return decodeEvent(data, ev, false)
}

// decodeEvent decodes one event; with alias, its raw request, response and
// annotation bytes share data's memory.
func decodeEvent(data []byte, ev *Event, alias bool) error {
	if err := decodeFast(data, ev, alias); err != nil {
		return err
	}
	return checkEvent(ev)
}

func checkEvent(ev *Event) error {
	if ev.Verb == "" && ev.Stage == "" && ev.AuditID == "" {
		return errors.New("not an audit event (no auditID, stage or verb)")
	}
	return nil
}

// DecodeList decodes a webhook body: an EventList (or a single Event),
// reusing buf's events.
func DecodeList(data []byte, buf []Event) ([]Event, error) {
	out := buf[:0]
	s := &scanner{b: data}
	var kind string
	isList := false
	err := s.object(func(k string) (err error) {
		switch k {
		case "kind":
			kind, err = s.optStr()
		case "items":
			isList = true
			if s.null() {
				return nil
			}
			if !s.consume('[') {
				return s.fail("items: expected an array")
			}
			if s.consume(']') {
				return nil
			}
			for {
				item, err := s.skip()
				if err != nil {
					return err
				}
				out = append(out, Event{})
				if err := decodeFast(item, &out[len(out)-1], true); err != nil {
					return fmt.Errorf("items[%d]: %w", len(out)-1, err)
				}
				if err := checkEvent(&out[len(out)-1]); err != nil {
					return fmt.Errorf("items[%d]: %w", len(out)-1, err)
				}
				if s.consume(',') {
					continue
				}
				if s.consume(']') {
					return nil
				}
				return s.fail("items: expected ',' or ']'")
			}
		default:
			_, err = s.skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.ws(); s.i != len(s.b) {
		return nil, s.fail("data after the list")
	}
	switch {
	case kind == "EventList" || (kind == "" && isList):
		return out, nil
	case kind == "Event" || kind == "":
		// A single event (a log line has no kind).
		var ev Event
		if err := DecodeEvent(data, &ev); err != nil {
			return nil, err
		}
		return append(buf[:0], ev), nil
	}
	return nil, fmt.Errorf("kind %s: want an audit.k8s.io/v1 EventList", kind)
}

// decodeError shortens jsoniter's errors (which quote the input) to one
// line without the input's content.
func decodeError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ", error found in #"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, "|"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("invalid JSON: %s", strings.TrimSpace(strings.Join(strings.Fields(msg), " ")))
}

// Time returns when the request was received (the stage timestamp when
// that is missing; the zero time when neither parses).
func (ev *Event) Time() time.Time {
	for _, s := range []string{ev.RequestReceivedTimestamp, ev.StageTimestamp} {
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Resource returns the object reference's resource, or "".
func (ev *Event) Resource() string {
	if ev.ObjectRef == nil {
		return ""
	}
	return ev.ObjectRef.Resource
}

// Namespace returns the object reference's namespace, or "".
func (ev *Event) Namespace() string {
	if ev.ObjectRef == nil {
		return ""
	}
	return ev.ObjectRef.Namespace
}

// Name returns the object reference's name, or "".
func (ev *Event) Name() string {
	if ev.ObjectRef == nil {
		return ""
	}
	return ev.ObjectRef.Name
}

// Subresource returns the object reference's subresource, or "".
func (ev *Event) Subresource() string {
	if ev.ObjectRef == nil {
		return ""
	}
	return ev.ObjectRef.Subresource
}

// Code returns the response code, 0 when unknown.
func (ev *Event) Code() int {
	if ev.ResponseStatus == nil {
		return 0
	}
	return int(ev.ResponseStatus.Code)
}

// Annotations returns the event's annotations (an empty map when it has
// none or they do not decode).
func (ev *Event) Annotations() map[string]string {
	if ev.annotations == nil {
		ev.annotations = map[string]string{}
		if len(ev.RawAnnotations) > 0 {
			_ = codec.Unmarshal(ev.RawAnnotations, &ev.annotations)
		}
	}
	return ev.annotations
}

// RequestObj returns the decoded request object (nil when there is none),
// with secret data redacted.
func (ev *Event) RequestObj() (map[string]any, error) {
	if ev.reqObj == nil && ev.reqErr == nil {
		ev.reqObj, ev.reqErr = decodeObject(ev.RequestObject)
	}
	return ev.reqObj, ev.reqErr
}

// ResponseObj returns the decoded response object (nil when there is
// none), with secret data redacted.
func (ev *Event) ResponseObj() (map[string]any, error) {
	if ev.respObj == nil && ev.respErr == nil {
		ev.respObj, ev.respErr = decodeObject(ev.ResponseObject)
	}
	return ev.respObj, ev.respErr
}

var null = []byte("null")

func decodeObject(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, null) {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := codec.Unmarshal(raw, &m); err != nil {
		return map[string]any{}, decodeError(err)
	}
	Redact(m)
	return m, nil
}

// Redact removes secret values from a decoded object: the data and
// stringData of a Secret (kind Secret or a list of them), and of every
// item of a list. Keys are kept, values replaced by "<redacted>".
func Redact(obj map[string]any) {
	if items, ok := obj["items"].([]any); ok {
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				Redact(m)
			}
		}
	}
	for _, f := range []string{"data", "stringData"} {
		if kind, _ := obj["kind"].(string); kind != "Secret" && kind != "" {
			break
		}
		d, ok := obj[f].(map[string]any)
		if !ok {
			continue
		}
		for k := range d {
			d[k] = "<redacted>"
		}
	}
}
