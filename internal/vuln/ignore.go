package vuln

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Ignore is one rule of a VEX/ignore file: a vulnerability (by id or any
// alias), optionally only for one package, with a required reason and an
// optional expiry date (YYYY-MM-DD, the last day it applies).
type Ignore struct {
	ID      string `json:"id" yaml:"id"`
	Package string `json:"package,omitempty" yaml:"package,omitempty"`
	Reason  string `json:"reason" yaml:"reason"`
	Expires string `json:"expires,omitempty" yaml:"expires,omitempty"`
}

// ignoreFile is the file's shape.
type ignoreFile struct {
	Ignore []Ignore `yaml:"ignore"`
}

// LoadIgnores reads a VEX/ignore file:
//
//	ignore:
//	  - id: CVE-2024-10524
//	    package: wget
//	    reason: wget is never run with untrusted URLs
//	    expires: 2026-12-31
func LoadIgnores(path string) ([]Ignore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", path, err)
	}
	return ParseIgnores(path, data)
}

// ParseIgnores parses the contents of a VEX/ignore file; name is used in
// errors.
func ParseIgnores(name string, data []byte) ([]Ignore, error) {
	var f ignoreFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	for i, r := range f.Ignore {
		if r.ID == "" {
			return nil, fmt.Errorf("ignore file %s: rule %d has no id", name, i+1)
		}
		if r.Reason == "" {
			return nil, fmt.Errorf("ignore file %s: rule %d (%s) has no reason", name, i+1, r.ID)
		}
		if r.Expires != "" {
			if _, err := time.Parse(time.DateOnly, r.Expires); err != nil {
				return nil, fmt.Errorf("ignore file %s: rule %d (%s): expires %q is not YYYY-MM-DD", name, i+1, r.ID, r.Expires)
			}
		}
	}
	return f.Ignore, nil
}

// applyIgnores marks f with the first rule that names its id or an alias
// (and its package, when the rule names one). A rule past its expiry day
// still marks it, as expired, so the finding is reported again.
func applyIgnores(f *Vulnerability, rules []Ignore, now time.Time) {
	for i := range rules {
		r := &rules[i]
		if r.ID != f.ID && !slices.Contains(f.Aliases, r.ID) {
			continue
		}
		if r.Package != "" && r.Package != f.Package.Name && r.Package != f.Package.SourceName {
			continue
		}
		f.Ignore = r
		if r.Expires != "" {
			day, _ := time.Parse(time.DateOnly, r.Expires)
			f.IgnoreExpired = !now.Before(day.AddDate(0, 0, 1))
		}
		return
	}
}
