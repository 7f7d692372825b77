package vulndb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Vulnerability is an OSV record (https://ossf.github.io/osv-schema/), with
// the fields that matching and reporting read.
type Vulnerability struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified,omitempty"`
	Published        string          `json:"published,omitempty"`
	Withdrawn        string          `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is a scored severity: Type CVSS_V2, CVSS_V3, CVSS_V4 or
// Ubuntu, and Score the vector or the text.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package of a record.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names an affected package: Ecosystem may carry a release suffix
// ("Debian:12", "Alpine:v3.19").
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a version range: Type SEMVER, ECOSYSTEM or GIT.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// maxRecord bounds one OSV record's size.
const maxRecord = 8 << 20

// ParseRecord decodes one OSV record and checks the fields matching relies
// on: an id, and on every affected package an ecosystem and a name (or a
// purl) and range events that each set exactly one field.
func ParseRecord(data []byte) (*Vulnerability, error) {
	if len(data) > maxRecord {
		return nil, fmt.Errorf("record is %d bytes, over the %d byte limit", len(data), maxRecord)
	}
	var v Vulnerability
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not an OSV record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not an OSV record: data after the JSON object")
	}
	if v.ID == "" {
		return nil, errors.New("OSV record without an id")
	}
	for i, a := range v.Affected {
		if a.Package.Ecosystem == "" && a.Package.PURL == "" {
			return nil, fmt.Errorf("%s: affected[%d] has no package ecosystem", v.ID, i)
		}
		for j, r := range a.Ranges {
			for k, e := range r.Events {
				n := 0
				for _, s := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
					if s != "" {
						n++
					}
				}
				if n != 1 {
					return nil, fmt.Errorf("%s: affected[%d].ranges[%d].events[%d] sets %d fields, want 1", v.ID, i, j, k, n)
				}
			}
		}
	}
	return &v, nil
}

// CVEs returns the record's CVE identifiers from id, aliases, upstream and
// related, in that order, without duplicates.
func (v *Vulnerability) CVEs() []string {
	var out []string
	seen := map[string]bool{}
	for _, group := range [][]string{{v.ID}, v.Aliases, v.Upstream, v.Related} {
		for _, id := range group {
			if len(id) > 4 && id[:4] == "CVE-" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
