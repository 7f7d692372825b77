package detect

import (
	"bufio"
	"io"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ParseAPKInstalled reads Alpine's lib/apk/db/installed: paragraphs of
// "X:value" lines (P name, V version, A arch, o origin, L license).
func ParseAPKInstalled(r io.Reader) ([]sbom.Package, error) {
	var out []sbom.Package
	var p sbom.Package
	var arch string
	flush := func() {
		if p.Name != "" && p.Version != "" {
			p.Ecosystem = sbom.Alpine
			if p.SourceName == p.Name {
				p.SourceName = ""
			}
			if p.SourceName != "" {
				p.SourceVersion = p.Version
			}
			var q packageurl.Qualifiers
			if arch != "" {
				q = packageurl.QualifiersFromMap(map[string]string{"arch": arch})
			}
			p.PURL = packageurl.NewPackageURL(packageurl.TypeApk, "alpine", strings.ToLower(p.Name), p.Version, q, "").ToString()
			out = append(out, p)
		}
		p, arch = sbom.Package{}, ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			p.Name = v
		case 'V':
			p.Version = v
		case 'o':
			p.SourceName = v
		case 'A':
			arch = v
		case 'L':
			if v != "" {
				p.Licenses = []string{v}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}
