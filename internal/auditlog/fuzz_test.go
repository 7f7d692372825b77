package auditlog

import (
	"testing"

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
