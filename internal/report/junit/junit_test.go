package junit

import (
	"bytes"
	"encoding/xml"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func render(t *testing.T, r *report.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Writer{}).Write(&buf, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(t *testing.T, out []byte) testsuites {
	t.Helper()
	var doc testsuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, out)
	}
	return doc
}

func TestGolden(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			out := render(t, tc.Result)
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.xml"), out)
			parse(t, out)
			if path, err := exec.LookPath("xmllint"); err == nil {
				cmd := exec.Command(path, "--noout", "-")
				cmd.Stdin = bytes.NewReader(out)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("xmllint: %v\n%s", err, msg)
				}
			}
		})
	}
}

// TestCounts checks every count attribute against the testcases and the
// control tallies of a real scan.
func TestCounts(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			doc := parse(t, render(t, tc.Result))
			var tests, failures, errors, skipped int
			suites := map[string]testsuite{}
			for _, s := range doc.Suites {
				suites[s.Name] = s
				var f, e, sk int
				for _, c := range s.Cases {
					n := 0
					if c.Failure != nil {
						f, n = f+1, n+1
					}
					if c.Error != nil {
						e, n = e+1, n+1
					}
					if c.Skipped != nil {
						sk, n = sk+1, n+1
					}
					if n > 1 {
						t.Errorf("%s/%s has %d outcomes", s.Name, c.Name, n)
					}
				}
				if s.Tests != len(s.Cases) || s.Failures != f || s.Errors != e || s.Skipped != sk {
					t.Errorf("suite %s counts tests=%d failures=%d errors=%d skipped=%d, cases say %d/%d/%d/%d",
						s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), f, e, sk)
				}
				tests, failures, errors, skipped = tests+s.Tests, failures+s.Failures, errors+s.Errors, skipped+s.Skipped
			}
			if doc.Tests != tests || doc.Failures != failures || doc.Errors != errors || doc.Skipped != skipped {
				t.Errorf("testsuites counts %d/%d/%d/%d, suites sum to %d/%d/%d/%d",
					doc.Tests, doc.Failures, doc.Errors, doc.Skipped, tests, failures, errors, skipped)
			}
			for _, c := range tc.Result.Controls {
				s, ok := suites[c.ID]
				if !ok {
					t.Errorf("no testsuite for control %s", c.ID)
					continue
				}
				// Audits' manual and not-applicable results are skipped too.
				unscored := 0
				for _, f := range tc.Result.Findings {
					if f.Control == c.ID && (f.Status == "manual" || f.Status == "not-applicable") {
						unscored++
					}
				}
				if s.Tests < c.Evaluated || s.Skipped != c.Excepted+unscored {
					t.Errorf("suite %s: tests=%d skipped=%d, control evaluated=%d excepted=%d, manual or not applicable %d", c.ID, s.Tests, s.Skipped, c.Evaluated, c.Excepted, unscored)
				}
				if s.Errors == 0 && s.Failures != c.Failed {
					t.Errorf("suite %s: failures=%d, control failed=%d", c.ID, s.Failures, c.Failed)
				}
			}
			if n := len(tc.Result.Errors); n > 0 && suites[InputErrorsSuite].Errors != n {
				t.Errorf("input-errors suite has %d errors, want %d", suites[InputErrorsSuite].Errors, n)
			}
		})
	}
}

func TestFailureContent(t *testing.T) {
	doc := parse(t, render(t, reporttest.Scan(t, reporttest.Dir())))
	tests := []struct {
		name, suite, testcase string
		check                 func(c testcase) bool
	}{
		{name: "failure with location and fix", suite: "test-privileged", testcase: "Deployment/shop/web", check: func(c testcase) bool {
			return c.Failure != nil && c.Failure.Type == "critical" && c.Line == "22" &&
				strings.Contains(c.Failure.Text, "workloads.yaml:22 spec.template.spec.containers[0].securityContext.privileged") &&
				strings.Contains(c.Failure.Text, "```yaml")
		}},
		{name: "expired exception fails", suite: "test-privileged", testcase: "Deployment/tools/expired-tool", check: func(c testcase) bool {
			return c.Failure != nil && strings.Contains(c.Failure.Text, "exception expired on 2024-01-01")
		}},
		{name: "annotation exception skips", suite: "test-privileged", testcase: "Pod/kube-system/legacy-agent", check: func(c testcase) bool {
			return c.Skipped != nil && c.Skipped.Message == "excepted by annotation: needs host access for node metrics"
		}},
		{name: "evaluation error", suite: "test-evaluation-error", testcase: `Pod/odd&ns/x<b>&amp;"q"`, check: func(c testcase) bool {
			return c.Error != nil && c.Error.Type == "evaluation-error"
		}},
		{name: "pass", suite: "test-privileged", testcase: "Deployment/a-namespace-that-is-also-rather-long/a-deployment-with-a-name-long-enough-to-overflow-an-eighty-column-terminal-line", check: func(c testcase) bool {
			return c.Failure == nil && c.Error == nil && c.Skipped == nil
		}},
		{name: "cross-object failure", suite: "test-service-without-pods", testcase: "Service/shop/orphan", check: func(c testcase) bool {
			return c.Failure != nil && c.Failure.Type == "info"
		}},
		{name: "input error", suite: InputErrorsSuite, testcase: "../reporttest/testdata/scan/broken.yaml:5", check: func(c testcase) bool {
			return c.Error != nil && c.Error.Type == "input-error"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range doc.Suites {
				if s.Name != tc.suite {
					continue
				}
				for _, c := range s.Cases {
					if c.Name == tc.testcase {
						if !tc.check(c) {
							t.Errorf("testcase %+v (failure %+v, error %+v, skipped %+v)", c, c.Failure, c.Error, c.Skipped)
						}
						return
					}
				}
			}
			t.Errorf("no testcase %s in suite %s", tc.testcase, tc.suite)
		})
	}
}
