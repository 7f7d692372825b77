// Package vuln matches an image's packages (an sbom.SBOM) against the
// offline OSV database (internal/vulndb) and turns the matches into
// findings of the report model.
//
// OSV semantics: an affected entry applies when its ecosystem is the
// package's (with the image's release for distributions: Debian:12,
// Alpine:v3.19, AlmaLinux:9…) and its name is the package's (the source
// package for Debian, Ubuntu and Alpine; the binary or the source rpm for
// the Red Hat family). The installed version is affected when it is in the
// entry's versions list or inside one of its SEMVER or ECOSYSTEM ranges
// (GIT ranges are ignored), evaluated as the OSV specification says:
// events sorted by version, introduced opens, fixed and last_affected
// close, and limit bounds the range. Withdrawn records never match.
package vuln

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/version"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

// Source looks up the OSV records of a package; *vulndb.DB is one.
type Source interface {
	Lookup(ctx context.Context, base sbom.Ecosystem, name string) ([]*vulndb.Vulnerability, error)
}

// Options tune matching.
type Options struct {
	// IgnoreUnfixed drops vulnerabilities with no fixed version above the
	// installed one.
	IgnoreUnfixed bool
	// MinSeverity drops vulnerabilities below it.
	MinSeverity control.Severity
	// Ignores are VEX/ignore rules; matched vulnerabilities are kept and
	// marked (Ignored), expired rules mark them Expired.
	Ignores []Ignore
	// Now is the time rules expire against; time.Now() when zero.
	Now time.Time
}

// Vulnerability is one vulnerability of one installed package.
type Vulnerability struct {
	// ID is the OSV id (GHSA-…, GO-…, DLA-…, ALSA-…).
	ID string `json:"id"`
	// Aliases are the other ids: CVEs first, then aliases, upstream and
	// related ids.
	Aliases []string `json:"aliases,omitempty"`
	// Summary is the record's summary (or the first line of its details).
	Summary string `json:"summary,omitempty"`
	// Severity is from the CVSS base score when a v3 vector is present,
	// else from the record's severity text; unrated records are medium.
	Severity control.Severity `json:"severity"`
	// Score is the CVSS base score, 0 when none was computed.
	Score float64 `json:"score,omitempty"`
	// Vector is the CVSS vector the score came from, or the one present.
	Vector string `json:"vector,omitempty"`
	// SeveritySource says where Severity came from: cvss-v3, text or unrated.
	SeveritySource string `json:"severitySource"`
	// Package is the installed package.
	Package sbom.Package `json:"package"`
	// Installed is the installed version compared (the source version for
	// distribution packages matched by source).
	Installed string `json:"installed"`
	// Fixed is the first fixed version above Installed; empty when none.
	Fixed string `json:"fixed,omitempty"`
	// Ignore is the rule that matched, if any.
	Ignore *Ignore `json:"ignore,omitempty"`
	// IgnoreExpired is true when Ignore matched but has expired.
	IgnoreExpired bool `json:"ignoreExpired,omitempty"`
}

// Match matches every package of s against db.
func Match(db Source, s *sbom.SBOM, opts Options) ([]Vulnerability, error) {
	return MatchContext(context.Background(), db, s, opts)
}

// MatchContext is Match with a context.
func MatchContext(ctx context.Context, db Source, s *sbom.SBOM, opts Options) ([]Vulnerability, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	type key struct {
		base sbom.Ecosystem
		name string
	}
	cache := map[key][]*vulndb.Vulnerability{}
	lookup := func(base sbom.Ecosystem, name string) ([]*vulndb.Vulnerability, error) {
		k := key{base, vulndb.NormalizeName(base, name)}
		if vs, ok := cache[k]; ok {
			return vs, nil
		}
		vs, err := db.Lookup(ctx, base, name)
		if err != nil {
			return nil, err
		}
		cache[k] = vs
		return vs, nil
	}
	var out []Vulnerability
	for _, p := range s.Packages {
		if !version.Supported(p.Ecosystem) {
			continue
		}
		release := releaseFilter(p.Ecosystem, s.Distro)
		seen := map[string]bool{}
		for _, q := range queries(p) {
			vs, err := lookup(p.Ecosystem, q.name)
			if err != nil {
				return nil, err
			}
			if len(vs) == 0 {
				continue
			}
			installed, err := version.Parse(p.Ecosystem, q.version)
			if err != nil {
				slog.Warn("package version not understood; not matched", "package", p.Name, "version", q.version, "err", err)
				continue
			}
			for _, v := range vs {
				if v.Withdrawn != "" || seen[v.ID] {
					continue
				}
				affected, fixed, sevs := evaluate(v, p.Ecosystem, q.name, installed, release)
				if !affected {
					continue
				}
				seen[v.ID] = true
				f := Vulnerability{ID: v.ID, Aliases: aliases(v), Summary: summary(v), Package: p, Installed: q.version, Fixed: fixed}
				f.Severity, f.Score, f.Vector, f.SeveritySource = severity(v, sevs)
				if opts.IgnoreUnfixed && f.Fixed == "" {
					continue
				}
				if f.Severity < opts.MinSeverity {
					continue
				}
				applyIgnores(&f, opts.Ignores, now)
				out = append(out, f)
			}
		}
	}
	slices.SortFunc(out, func(a, b Vulnerability) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Score, a.Score),
			cmp.Compare(a.Package.Name, b.Package.Name), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package.Path, b.Package.Path))
	})
	return out, nil
}

type query struct{ name, version string }

// queries returns the names a package is looked up by, with the version
// compared under each: distribution advisories name source packages
// (Debian, Ubuntu, Alpine) or binary rpms (Red Hat family, whose records
// list every binary of the errata; the source rpm is tried as well).
func queries(p sbom.Package) []query {
	src := query{cmp.Or(p.SourceName, p.Name), cmp.Or(p.SourceVersion, p.Version)}
	switch p.Ecosystem {
	case sbom.Debian, sbom.Ubuntu, sbom.Alpine:
		return []query{src}
	case sbom.RedHat, sbom.AlmaLinux, sbom.Rocky:
		q := []query{{p.Name, p.Version}}
		if src.name != p.Name {
			q = append(q, src)
		}
		return q
	}
	return []query{{p.Name, p.Version}}
}

// releaseFilter returns whether an OSV ecosystem string ("Debian:12")
// applies to the image's distribution release. Entries without a suffix
// apply to every release; for a distribution ecosystem with no known
// release only those match.
func releaseFilter(eco sbom.Ecosystem, d *sbom.Distro) func(string) bool {
	var rel string
	if d != nil {
		rel = d.VersionID
	}
	major, _, _ := strings.Cut(rel, ".")
	want := ""
	switch eco {
	case sbom.Debian, sbom.AlmaLinux, sbom.Rocky:
		want = major
	case sbom.Alpine:
		if parts := strings.Split(rel, "."); len(parts) >= 2 {
			want = "v" + parts[0] + "." + parts[1]
		}
	case sbom.Ubuntu:
		want = rel
	case sbom.RedHat:
		return func(osvEco string) bool {
			f := strings.Split(osvEco, ":")
			if len(f) == 1 {
				return true
			}
			if len(f) < 3 || major == "" || (f[1] != "enterprise_linux" && !strings.HasPrefix(f[1], "rhel")) {
				return false
			}
			m, _, _ := strings.Cut(f[2], ".")
			return m == major
		}
	default:
		return func(osvEco string) bool { return version.Base(osvEco) == eco }
	}
	return func(osvEco string) bool {
		base, suffix, has := strings.Cut(osvEco, ":")
		if sbom.Ecosystem(base) != eco {
			return false
		}
		if !has {
			return true
		}
		if eco == sbom.Ubuntu {
			suffix = strings.TrimSuffix(strings.TrimPrefix(suffix, "Pro:"), ":LTS")
		}
		return want != "" && suffix == want
	}
}

// evaluate reports whether installed is affected by v's entries for the
// package, the first fixed version above it, and the entry-level
// severities of the matching entries.
func evaluate(v *vulndb.Vulnerability, eco sbom.Ecosystem, name string, installed version.Version, release func(string) bool) (bool, string, []vulndb.Severity) {
	norm := vulndb.NormalizeName(eco, name)
	affected := false
	var fixed version.Version
	var sevs []vulndb.Severity
	for _, a := range v.Affected {
		if !release(a.Package.Ecosystem) || vulndb.NormalizeName(eco, a.Package.Name) != norm {
			continue
		}
		hit := false
		for _, s := range a.Versions {
			if s == installed.String() {
				hit = true
			} else if sv, err := version.Parse(eco, s); err == nil && sv.Compare(installed) == 0 {
				hit = true
			}
		}
		for _, r := range a.Ranges {
			if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
				continue
			}
			in, fx := inRange(eco, r.Events, installed)
			hit = hit || in
			if fx != nil && (fixed == nil || fx.Compare(fixed) < 0) {
				fixed = fx
			}
		}
		if hit {
			affected = true
			sevs = append(sevs, a.Severity...)
		}
	}
	if !affected {
		return false, "", nil
	}
	if fixed == nil {
		return true, "", sevs
	}
	return true, fixed.String(), sevs
}

type event struct {
	kind string // introduced, fixed, last_affected, limit
	v    version.Version
	zero bool // introduced "0"
}

// inRange evaluates one range (OSV schema "Evaluation"): events sorted by
// version with introduced "0" first; v is affected after an introduced
// at or below it unless a later fixed at or below it, or last_affected
// below it, closes the range; limits bound the range from above. It also
// returns the lowest fixed version above v. Events whose version does not
// parse are ignored.
func inRange(eco sbom.Ecosystem, raw []vulndb.Event, v version.Version) (bool, version.Version) {
	evs := make([]event, 0, len(raw))
	for _, e := range raw {
		kind, s := "introduced", e.Introduced
		switch {
		case e.Fixed != "":
			kind, s = "fixed", e.Fixed
		case e.LastAffected != "":
			kind, s = "last_affected", e.LastAffected
		case e.Limit != "":
			kind, s = "limit", e.Limit
		}
		if kind == "introduced" && s == "0" {
			evs = append(evs, event{kind: kind, zero: true})
			continue
		}
		if kind == "limit" && s == "*" {
			continue
		}
		pv, err := version.Parse(eco, s)
		if err != nil {
			continue
		}
		evs = append(evs, event{kind: kind, v: pv})
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		return a.v.Compare(b.v)
	})
	var fixed version.Version
	var limits []version.Version
	affected := false
	for _, e := range evs {
		switch e.kind {
		case "introduced":
			if e.zero || v.Compare(e.v) >= 0 {
				affected = true
			}
		case "fixed":
			if v.Compare(e.v) >= 0 {
				affected = false
			} else if fixed == nil {
				fixed = e.v
			}
		case "last_affected":
			if v.Compare(e.v) > 0 {
				affected = false
			}
		case "limit":
			limits = append(limits, e.v)
		}
	}
	if len(limits) > 0 && !slices.ContainsFunc(limits, func(l version.Version) bool { return v.Compare(l) < 0 }) {
		affected = false
	}
	if !affected {
		return false, nil
	}
	return true, fixed
}

func aliases(v *vulndb.Vulnerability) []string {
	out := v.CVEs()
	seen := map[string]bool{v.ID: true}
	for _, c := range out {
		seen[c] = true
	}
	for _, group := range [][]string{v.Aliases, v.Upstream} {
		for _, id := range group {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func summary(v *vulndb.Vulnerability) string {
	if v.Summary != "" {
		return v.Summary
	}
	line, _, _ := strings.Cut(strings.TrimSpace(v.Details), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// severity rates a record: the highest CVSS v3 base score among the
// entry's and the record's vectors; else the record's severity text
// (database_specific.severity as GHSA writes it); else unrated, which is
// reported as medium.
func severity(v *vulndb.Vulnerability, entry []vulndb.Severity) (control.Severity, float64, string, string) {
	best, vector, other := -1.0, "", ""
	for _, s := range append(slices.Clone(entry), v.Severity...) {
		switch s.Type {
		case "CVSS_V3":
			if sc, err := CVSS3Score(s.Score); err == nil && sc > best {
				best, vector = sc, s.Score
			}
		case "CVSS_V4":
			other = s.Score
		}
	}
	if best >= 0 {
		return fromScore(best), best, vector, "cvss-v3"
	}
	var ds struct {
		Severity string `json:"severity"`
	}
	if len(v.DatabaseSpecific) > 0 && json.Unmarshal(v.DatabaseSpecific, &ds) == nil && ds.Severity != "" {
		if sev, ok := fromText(ds.Severity); ok {
			return sev, 0, other, "text"
		}
	}
	return control.SeverityMedium, 0, other, "unrated"
}

func fromScore(s float64) control.Severity {
	switch {
	case s >= 9:
		return control.SeverityCritical
	case s >= 7:
		return control.SeverityHigh
	case s >= 4:
		return control.SeverityMedium
	case s > 0:
		return control.SeverityLow
	}
	return control.SeverityInfo
}

func fromText(s string) (control.Severity, bool) {
	switch strings.ToLower(s) {
	case "critical":
		return control.SeverityCritical, true
	case "high", "important":
		return control.SeverityHigh, true
	case "moderate", "medium":
		return control.SeverityMedium, true
	case "low":
		return control.SeverityLow, true
	case "none", "negligible", "unimportant":
		return control.SeverityInfo, true
	}
	return 0, false
}
