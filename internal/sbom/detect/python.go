package detect

import (
	"bufio"
	"io"
	"regexp"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

var pypiNormalize = regexp.MustCompile(`[-_.]+`)

// ParsePythonMetadata reads the header of a core metadata file
// (*.dist-info/METADATA, *.egg-info/PKG-INFO or an *.egg-info file): Name,
// Version and License-Expression or License.
func ParsePythonMetadata(r io.Reader) (*sbom.Package, error) {
	var name, version, license, expr string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			break // the body (description) follows
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "name":
			name = v
		case "version":
			version = v
		case "license":
			license = v
		case "license-expression":
			expr = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if name == "" || version == "" {
		return nil, nil
	}
	p := &sbom.Package{Name: name, Version: version, Ecosystem: sbom.PyPI}
	switch {
	case expr != "":
		p.Licenses = []string{expr}
	case license != "" && license != "UNKNOWN" && !strings.Contains(license, "\n") && len(license) < 100:
		p.Licenses = []string{license}
	}
	norm := strings.ToLower(pypiNormalize.ReplaceAllString(name, "-"))
	p.PURL = packageurl.NewPackageURL(packageurl.TypePyPi, "", norm, version, nil, "").ToString()
	return p, nil
}
