package detect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"

	"github.com/rampart-dev/rampart/internal/oneline"
)

func npmPackage(name, version string, licenses []string) (sbom.Package, bool) {
	if name == "" || version == "" || strings.ContainsAny(version, ":/") {
		return sbom.Package{}, false // git, file, link and URL versions
	}
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		if i := strings.IndexByte(name, '/'); i > 0 {
			ns, n = name[:i], name[i+1:]
		}
	}
	return sbom.Package{
		Name: name, Version: version, Ecosystem: sbom.Npm, Licenses: licenses,
		PURL: packageurl.NewPackageURL(packageurl.TypeNPM, ns, n, version, nil, "").ToString(),
	}, true
}

type npmLock struct {
	LockfileVersion int                        `json:"lockfileVersion"`
	Packages        map[string]npmLockPackage  `json:"packages"`
	Dependencies    map[string]npmLockV1Depend `json:"dependencies"`
}

type npmLockPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Link    bool            `json:"link"`
	License json.RawMessage `json:"license"`
}

type npmLockV1Depend struct {
	Version      string                     `json:"version"`
	Dependencies map[string]npmLockV1Depend `json:"dependencies"`
}

// ParsePackageLock reads an npm package-lock.json (lockfileVersion 1, 2
// or 3). Version 2 and 3 are read from "packages" (every installed path
// under node_modules), version 1 from the nested "dependencies".
func ParsePackageLock(data []byte) ([]sbom.Package, error) {
	var l npmLock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("package-lock.json: %s", oneline.Err(err))
	}
	var out []sbom.Package
	if len(l.Packages) > 0 {
		keys := make([]string, 0, len(l.Packages))
		for k := range l.Packages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := l.Packages[k]
			i := strings.LastIndex(k, "node_modules/")
			if i < 0 || p.Link {
				continue
			}
			name := p.Name
			if name == "" {
				name = k[i+len("node_modules/"):]
			}
			if pkg, ok := npmPackage(name, p.Version, npmLicenses(p.License)); ok {
				out = append(out, pkg)
			}
		}
		return out, nil
	}
	var walk func(deps map[string]npmLockV1Depend, depth int)
	walk = func(deps map[string]npmLockV1Depend, depth int) {
		if depth > 64 {
			return
		}
		names := make([]string, 0, len(deps))
		for n := range deps {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d := deps[n]
			if pkg, ok := npmPackage(n, d.Version, nil); ok {
				out = append(out, pkg)
			}
			walk(d.Dependencies, depth+1)
		}
	}
	walk(l.Dependencies, 0)
	return out, nil
}

// ParsePackageJSON reads node_modules/<name>/package.json.
func ParsePackageJSON(data []byte) (*sbom.Package, error) {
	var m struct {
		Name     string          `json:"name"`
		Version  string          `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses json.RawMessage `json:"licenses"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("package.json: %s", oneline.Err(err))
	}
	lic := npmLicenses(m.License)
	if len(lic) == 0 {
		lic = npmLicenses(m.Licenses)
	}
	p, ok := npmPackage(m.Name, m.Version, lic)
	if !ok {
		return nil, nil
	}
	return &p, nil
}

// npmLicenses accepts "MIT", {"type": "MIT"} and a list of either.
func npmLicenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var o struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Type != "" {
		return []string{o.Type}
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			out = append(out, npmLicenses(e)...)
		}
		return out
	}
	return nil
}
