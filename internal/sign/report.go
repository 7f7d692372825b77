package sign

import (
	"fmt"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library/signature"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// FrameworkID is the framework of verification reports (NSA-CISA: pod
// security, building secure container images).
const FrameworkID = "nsa"

// Check returns the image-unsigned check from the catalogue, with the
// framework item that lists it.
func Check() (*audit.Check, audit.Framework, error) {
	ctls, err := signature.Controls()
	if err != nil {
		return nil, audit.Framework{}, err
	}
	c := ctls[0]
	chk := &audit.Check{ID: c.ID, Title: c.Title, Severity: c.Severity, Remediation: c.Remediation}
	fws, err := framework.Load()
	if err != nil {
		return nil, audit.Framework{}, err
	}
	fw, ok := fws.Get(FrameworkID)
	if !ok {
		return nil, audit.Framework{}, fmt.Errorf("framework %s: no spec", FrameworkID)
	}
	for _, it := range fw.Items {
		for _, id := range it.Controls {
			if id == c.ID && chk.Item == "" {
				chk.Item, chk.ItemName = it.ID, it.Name
			}
		}
	}
	return chk, audit.Framework{ID: fw.ID, Name: fw.Name, Version: fw.Version}, nil
}

// Outcome is the verification of one reference: a Result, or the error
// that kept it from being decided.
type Outcome struct {
	// Ref is the reference as given.
	Ref string
	// Result is set when the verification was decided.
	Result *Result
	// Err is set when it was not.
	Err error
}

// AuditResult turns an outcome into a finding of check: verified passes;
// missing, invalid and other-signer fail; an undecided verification (a
// registry error) is warn, as rampart node reports what it could not
// decide, and Report lists it as an input error too.
func AuditResult(chk *audit.Check, o Outcome) audit.Result {
	ar := audit.Result{Check: chk, Target: k8s.Ref{Kind: "Image", Name: o.Ref}, Source: k8s.Source{File: o.Ref}}
	if o.Err != nil {
		ar.Status = control.StatusWarn
		ar.Message = "signature verification failed: " + o.Err.Error()
		ar.Evidence = &report.Evidence{Origin: "response", Location: o.Ref}
		return ar
	}
	r := o.Result
	ar.Source.File = r.Ref
	if r.Digest != "" {
		ar.Source.Origin = r.Digest
	}
	ar.Message = r.Summary()
	switch r.Status {
	case Verified:
		ar.Status = control.StatusPass
		ar.Evidence = &report.Evidence{Value: "signed by " + r.Signer, Origin: "response", Location: r.Location}
	case Missing:
		ar.Status = control.StatusFail
		ar.Evidence = &report.Evidence{Value: r.Reason, Origin: "absent", Location: r.Ref + "@" + r.Digest}
	default:
		ar.Status = control.StatusFail
		v := string(r.Status) + ": " + r.Reason
		if r.Signer != "" {
			v += "; signer " + r.Signer
		}
		ar.Evidence = &report.Evidence{Value: v, Origin: "response", Location: r.Location}
	}
	return ar
}

// Report builds the report of verifications.
func Report(version string, outcomes []Outcome) (*report.Result, error) {
	chk, fw, err := Check()
	if err != nil {
		return nil, err
	}
	results := make([]audit.Result, 0, len(outcomes))
	var errs []report.InputError
	for _, o := range outcomes {
		results = append(results, AuditResult(chk, o))
		if o.Err != nil {
			errs = append(errs, report.InputError{File: o.Ref, Message: o.Err.Error()})
		}
	}
	return audit.Build(version, fw, []*audit.Check{chk}, results, errs), nil
}
