package control

import (
	"fmt"
	"strings"
)

// Severity ranks how bad a failing control is.
type Severity int8

// Severities, lowest first.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lowercase name.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Status is the outcome of one control on one object.
type Status string

// Statuses, following the pass/fail/warn/error model of policy engines.
const (
	StatusFail     Status = "fail"
	StatusWarn     Status = "warn"
	StatusPass     Status = "pass"
	StatusExcepted Status = "excepted"
	StatusError    Status = "error"
	// StatusSkip marks a framework item none of whose controls applied to any object.
	StatusSkip Status = "skip"
	// StatusManual marks an audit check (rampart node) that a human must
	// verify: the benchmark itself says it cannot be automated.
	StatusManual Status = "manual"
	// StatusNotApplicable marks an audit check whose component is absent.
	StatusNotApplicable Status = "not-applicable"
)
