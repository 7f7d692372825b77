package detect

import (
	"bufio"
	"io"
	"strings"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// ParseOSRelease reads an os-release file (KEY=value lines, values
// optionally quoted). It returns nil when the file names no ID.
func ParseOSRelease(r io.Reader) (*sbom.Distro, error) {
	d := &sbom.Distro{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch k {
		case "ID":
			d.ID = strings.ToLower(v)
		case "VERSION_ID":
			d.VersionID = v
		case "PRETTY_NAME":
			d.PrettyName = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if d.ID == "" {
		return nil, nil
	}
	return d, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return strings.NewReplacer(`\"`, `"`, `\$`, `$`, `\\`, `\`, "\\`", "`").Replace(v)
}
