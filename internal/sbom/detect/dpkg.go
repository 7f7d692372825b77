package detect

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ParseDpkgStatus reads a dpkg status file (var/lib/dpkg/status) or one
// file of var/lib/dpkg/status.d (distroless), whose paragraphs have no
// Status field and are all installed. Only installed packages are
// returned; Source "name (version)" gives SourceName and SourceVersion.
func ParseDpkgStatus(r io.Reader) ([]sbom.Package, error) {
	var out []sbom.Package
	var name, version, source, arch, status string
	flush := func() {
		defer func() { name, version, source, arch, status = "", "", "", "", "" }()
		if name == "" || version == "" {
			return
		}
		if status != "" {
			f := strings.Fields(status)
			if len(f) == 0 || f[len(f)-1] != "installed" {
				return
			}
		}
		p := sbom.Package{Name: name, Version: version, Ecosystem: sbom.Debian}
		if source != "" {
			src, ver, _ := strings.Cut(source, " ")
			ver = strings.Trim(strings.TrimSpace(ver), "()")
			if ver == "" {
				ver = version
			}
			if src != name || ver != version {
				p.SourceName, p.SourceVersion = src, ver
			}
		}
		var q packageurl.Qualifiers
		if arch != "" {
			q = packageurl.QualifiersFromMap(map[string]string{"arch": arch})
		}
		p.PURL = packageurl.NewPackageURL(packageurl.TypeDebian, "debian", name, version, q, "").ToString()
		out = append(out, p)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "Package":
			name = string(bytes.TrimSpace(v))
		case "Version":
			version = string(bytes.TrimSpace(v))
		case "Source":
			source = string(bytes.TrimSpace(v))
		case "Architecture":
			arch = string(bytes.TrimSpace(v))
		case "Status":
			status = string(bytes.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}
