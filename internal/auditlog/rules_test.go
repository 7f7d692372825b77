package auditlog

import (
	"testing"

	"github.com/rampart-dev/rampart/internal/detect"
)

func defaultRules(t testing.TB) *detect.RuleSet {
	t.Helper()
	rules, err := detect.Defaults(SourceName)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDefaultRulesCompile(t *testing.T) {
	rs := defaultRules(t)
	if n := len(rs.Rules()); n < 12 {
		t.Fatalf("%d default rules, want at least 12", n)
	}
}
