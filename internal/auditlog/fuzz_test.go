package auditlog

import (
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/rampart-dev/rampart/internal/detect"
)

// FuzzDecodeEvent holds the event decoder and the default rules to any
// input: an error or an event, never a panic; evaluation errors are
// allowed (the rule does not match), panics are not.
func FuzzDecodeEvent(f *testing.F) {
	for i, l := range capturedLines(f) {
		if i%20 == 0 {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"auditID":"x","verb":"create","objectRef":{"resource":"pods"},"requestObject":{"spec":{"containers":[{"securityContext":{"privileged":"yes"}}],"volumes":[{"hostPath":null}]}}}`))
	f.Add([]byte(`{"auditID":"x","stage":"ResponseComplete","user":{"username":"system:anonymous","groups":null},"annotations":{"authorization.k8s.io/decision":"allow"}}`))
	rs := defaultRules(f)
	disp := detect.NewDispatcher(nil, nil)
	det := NewDetector(rs, nil, nil, disp, nil, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		if err := DecodeEvent(data, &ev); err != nil {
			return
		}
		_ = det.Process(&ev, nil)
		_ = KeyFacts(&ev)
		_ = (&Enricher{}).Context(&ev)
	})
}

// FuzzDecodeList holds the webhook body decoder to any input.
func FuzzDecodeList(f *testing.F) {
	lines := capturedLines(f)
	f.Add(eventList(lines, 0, 3))
	f.Add([]byte(`{"kind":"EventList","items":[{"auditID":"a"},{}]}`))
	f.Add([]byte(`{"kind":"Event","auditID":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := DecodeList(data, nil)
		if err != nil {
			return
		}
		for i := range evs {
			_, _ = evs[i].RequestObj()
			_, _ = evs[i].ResponseObj()
		}
	})
}

// referenceDecode decodes with json-iterator (case-sensitive), the
// reference the hand-written decoder is held to.
func referenceDecode(data []byte, ev *Event) error {
	*ev = Event{}
	return codec.Unmarshal(data, ev)
}

func normRaw(b []byte) string {
	if string(b) == "null" {
		return ""
	}
	return string(b)
}

// sameEvent compares two decoded events field by field.
func sameEvent(a, b *Event) string {
	type flat struct {
		Level, AuditID, Stage, RequestURI, Verb, UserAgent, Req, Resp, Ann, RRT, ST string
		User                                                                        string
		Imp, Ref, Status                                                            string
		IPs                                                                         string
	}
	f := func(e *Event) flat {
		return flat{e.Level, e.AuditID, e.Stage, e.RequestURI, e.Verb, e.UserAgent, normRaw(e.RequestObject), normRaw(e.ResponseObject), normRaw(e.RawAnnotations),
			e.RequestReceivedTimestamp, e.StageTimestamp, fmt.Sprintf("%#v", e.User), fmt.Sprintf("%#v", e.ImpersonatedUser),
			fmt.Sprintf("%#v", e.ObjectRef), fmt.Sprintf("%#v", e.ResponseStatus), fmt.Sprintf("%#v", e.SourceIPs)}
	}
	fa, fb := f(a), f(b)
	if fa != fb {
		return fmt.Sprintf("\nfast:      %+v\nreference: %+v", fa, fb)
	}
	return ""
}

// FuzzDecodeEquivalence holds the hand-written decoder to json-iterator:
// on input both accept, they decode the same event, and valid input the
// reference accepts, the fast decoder accepts too.
func FuzzDecodeEquivalence(f *testing.F) {
	for i, l := range capturedLines(f) {
		if i%25 == 0 {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"verb":"get","user":{"username":"a\u00e9\"b\\/c","groups":null,"extra":{"k":["v"]}},"objectRef":null,"responseStatus":{"code":403},"sourceIPs":[],"annotations":{"a":"b"},"requestObject":null}`))
	f.Add([]byte(`{"verb":"get","verb":"list","auditID":"\ud83d\ude00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) || !json.Valid(data) {
			return
		}
		var fast, ref Event
		ferr := decodeFast(data, &fast, false)
		rerr := referenceDecode(data, &ref)
		if rerr != nil {
			return
		}
		if ferr != nil {
			t.Fatalf("fast decoder rejects what the reference accepts: %v", ferr)
		}
		if d := sameEvent(&fast, &ref); d != "" {
			t.Fatalf("decoders differ:%s", d)
		}
	})
}

func TestDecodeMatchesReference(t *testing.T) {
	for i, l := range capturedLines(t) {
		var fast, ref Event
		if err := decodeFast(l, &fast, false); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := referenceDecode(l, &ref); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if d := sameEvent(&fast, &ref); d != "" {
			t.Fatalf("line %d: decoders differ:%s", i+1, d)
		}
	}
}
