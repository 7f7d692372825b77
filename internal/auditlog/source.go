package auditlog

import (
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/rampart-dev/rampart/internal/detect"
)

// SourceName is the value of the source field of audit rules.
const SourceName = "audit"

// Variables documents the CEL variables of audit rules (docs/audit.md).
var Variables = map[string]string{
	"verb":              "string: the Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection)",
	"stage":             "string: RequestReceived, ResponseStarted, ResponseComplete or Panic",
	"level":             "string: None, Metadata, Request or RequestResponse",
	"requestURI":        "string: the request URI",
	"user":              "map: username, uid, groups (list), extra (map of lists)",
	"impersonatedUser":  "map: like user; empty when the request was not impersonated",
	"userAgent":         "string: the client's user agent",
	"sourceIPs":         "list of strings: the client addresses",
	"objectRef":         "map: resource, subresource, namespace, name, apiGroup, apiVersion (\"\" when absent)",
	"code":              "int: the response code (0 when unknown)",
	"responseStatus":    "map: code, reason, status, message",
	"annotations":       "map of strings: e.g. authorization.k8s.io/decision",
	"requestObject":     "map: the request body (empty unless logged at Request level or above; Secret data redacted)",
	"responseObject":    "map: the response body (empty unless logged at RequestResponse; Secret data redacted)",
	"usualSecretReader": "bool: for secret reads, whether the user is a usual reader of the namespace's secrets (Baseline); true for other events",
}

// Source returns the detect.Source of audit events (*Event).
func Source() detect.Source {
	return detect.Source{
		Name: SourceName,
		Declarations: []cel.EnvOption{
			cel.Variable("verb", cel.StringType),
			cel.Variable("stage", cel.StringType),
			cel.Variable("level", cel.StringType),
			cel.Variable("requestURI", cel.StringType),
			cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("impersonatedUser", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("userAgent", cel.StringType),
			cel.Variable("sourceIPs", cel.ListType(cel.StringType)),
			cel.Variable("objectRef", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("code", cel.IntType),
			cel.Variable("responseStatus", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("annotations", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("requestObject", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("responseObject", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("usualSecretReader", cel.BoolType),
		},
		MatchFields: []string{"verbs", "resources", "subresources", "namespaces"},
		Facts:       facts,
		Activation:  func(e any) interpreter.Activation { return &activation{ev: e.(*Event)} },
	}
}

func facts(e any) detect.Facts {
	ev := e.(*Event)
	f := detect.Facts{Verb: ev.Verb}
	if r := ev.ObjectRef; r != nil {
		f.Resource, f.Subresource, f.Namespace = r.Resource, r.Subresource, r.Namespace
	}
	return f
}

// activation resolves an event's variables on demand, caching each.
type activation struct {
	ev    *Event
	names [8]string
	vals  [8]ref.Val
	n     int
}

var (
	emptyMap     = types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{})
	emptyStrings = types.NewStringList(types.DefaultTypeAdapter, nil)
)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	for i := 0; i < a.n; i++ {
		if a.names[i] == name {
			return a.vals[i], true
		}
	}
	v, ok := a.resolve(name)
	if !ok {
		return nil, false
	}
	if a.n < len(a.names) {
		a.names[a.n], a.vals[a.n] = name, v
		a.n++
	}
	return v, true
}

func (a *activation) resolve(name string) (ref.Val, bool) {
	ev := a.ev
	switch name {
	case "verb":
		return types.String(ev.Verb), true
	case "stage":
		return types.String(ev.Stage), true
	case "level":
		return types.String(ev.Level), true
	case "requestURI":
		return types.String(ev.RequestURI), true
	case "userAgent":
		return types.String(ev.UserAgent), true
	case "code":
		return types.Int(ev.Code()), true
	case "user":
		return userVal(&ev.User), true
	case "impersonatedUser":
		if ev.ImpersonatedUser == nil {
			return emptyMap, true
		}
		return userVal(ev.ImpersonatedUser), true
	case "sourceIPs":
		if len(ev.SourceIPs) == 0 {
			return emptyStrings, true
		}
		return types.NewStringList(types.DefaultTypeAdapter, ev.SourceIPs), true
	case "objectRef":
		r := ev.ObjectRef
		if r == nil {
			r = &ObjectRef{}
		}
		return types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{
			"resource": r.Resource, "subresource": r.Subresource, "namespace": r.Namespace, "name": r.Name,
			"apiGroup": r.APIGroup, "apiVersion": r.APIVersion,
		}), true
	case "responseStatus":
		s := ev.ResponseStatus
		if s == nil {
			s = &Status{}
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{
			"code": int64(s.Code), "reason": s.Reason, "status": s.Status, "message": s.Message,
		}), true
	case "annotations":
		return types.NewStringStringMap(types.DefaultTypeAdapter, ev.Annotations()), true
	case "requestObject":
		m, _ := ev.RequestObj()
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m), true
	case "responseObject":
		m, _ := ev.ResponseObj()
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m), true
	case "usualSecretReader":
		return types.Bool(ev.usualReader == nil || *ev.usualReader), true
	}
	return nil, false
}

func userVal(u *UserInfo) ref.Val { return userMap{u: u} }

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// KeyFacts returns an event's key facts for an alert.
func KeyFacts(ev *Event) map[string]string {
	m := map[string]string{"auditID": ev.AuditID, "verb": ev.Verb, "user": ev.User.Username, "stage": ev.Stage}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if len(ev.User.Groups) > 0 {
		m["groups"] = strings.Join(ev.User.Groups, ",")
	}
	if ev.ImpersonatedUser != nil {
		set("impersonatedUser", ev.ImpersonatedUser.Username)
	}
	if r := ev.ObjectRef; r != nil {
		set("resource", r.Resource)
		set("subresource", r.Subresource)
		set("namespace", r.Namespace)
		set("name", r.Name)
		set("apiGroup", r.APIGroup)
	}
	set("requestURI", ev.RequestURI)
	set("userAgent", ev.UserAgent)
	set("sourceIPs", strings.Join(ev.SourceIPs, ","))
	if c := ev.Code(); c != 0 {
		m["code"] = strconv.Itoa(c)
	}
	set("decision", ev.Annotations()["authorization.k8s.io/decision"])
	set("reason", ev.Annotations()["authorization.k8s.io/reason"])
	return m
}
