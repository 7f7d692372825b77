package detect

import (
	"bytes"
	"debug/buildinfo"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ParseGoBinary reads the build information of a Go executable: the main
// module (unless it is "(devel)"), each dependency (replacements applied)
// and the standard library as package "stdlib" at the Go version, in the
// module form OSV's Go ecosystem matches ("go1.22.3" → "v1.22.3"). It
// returns nil for an executable that is not a Go binary.
func ParseGoBinary(data []byte) []sbom.Package {
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var out []sbom.Package
	add := func(path, version string) {
		if path == "" || version == "" || version == "(devel)" {
			return
		}
		ns, name := "", path
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			ns, name = path[:i], path[i+1:]
		}
		out = append(out, sbom.Package{
			Name: path, Version: version, Ecosystem: sbom.Go,
			PURL: packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, version, nil, "").ToString(),
		})
	}
	add(bi.Main.Path, bi.Main.Version)
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		add(d.Path, d.Version)
	}
	if v := goVersion(bi.GoVersion); v != "" {
		add("stdlib", v)
	}
	return out
}

// goVersion turns a Go release name into a module version: go1.22.3 →
// v1.22.3, go1.21 → v1.21.0, go1.21rc2 → v1.21.0-rc.2; a suffix such as
// " X:boringcrypto" is dropped.
func goVersion(s string) string {
	s, _, _ = strings.Cut(s, " ")
	s, ok := strings.CutPrefix(s, "go")
	if !ok || s == "" {
		return ""
	}
	pre := ""
	for _, tag := range []string{"rc", "beta"} {
		if i := strings.Index(s, tag); i > 0 {
			pre = "-" + tag + "." + s[i+len(tag):]
			s = s[:i]
			break
		}
	}
	if strings.Count(s, ".") == 1 {
		s += ".0"
	}
	return "v" + s + pre
}
