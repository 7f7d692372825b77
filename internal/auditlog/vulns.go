package auditlog

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/rampart-dev/rampart/internal/report"
)

// LoadVulnReports reads JSON reports of rampart image --vulns and returns
// the image vulnerability counts they hold: failing findings on Image
// objects, counted by severity, looked up by the image reference as
// scanned or by its digest.
func LoadVulnReports(paths ...string) (VulnCounts, error) {
	byImage := map[string]map[string]int{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--vulns: %w", err)
		}
		var res report.Result
		if err := json.Unmarshal(data, &res); err != nil {
			return nil, fmt.Errorf("--vulns %s: not a rampart JSON report: %w", p, decodeError(err))
		}
		for _, f := range res.Findings {
			if f.Object.Kind != "Image" || f.Status != "fail" {
				continue
			}
			for _, key := range imageKeys(f.Object.Name) {
				m := byImage[key]
				if m == nil {
					m = map[string]int{}
					byImage[key] = m
				}
				m[f.Severity]++
			}
		}
	}
	return func(image string) map[string]int {
		for _, key := range imageKeys(image) {
			if m, ok := byImage[key]; ok {
				return m
			}
		}
		return nil
	}, nil
}

// imageKeys returns the lookup keys of an image reference: the reference
// and, when pinned, its digest.
func imageKeys(ref string) []string {
	keys := []string{ref}
	if _, d, ok := strings.Cut(ref, "@"); ok {
		keys = append(keys, d)
	} else if strings.HasPrefix(ref, "sha256:") {
		keys = append(keys, ref)
	}
	return keys
}
