package detect

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// rules holds the default rules: rules/audit/*.yaml and rules/sensor/*.yaml.
//
//go:embed rules
var rules embed.FS

// Defaults returns the shipped rules of one source ("audit", "sensor"), read
// from rules/<source>/*.yaml (file names are reported as
// rules/<source>/<file>).
func Defaults(source string) ([]Rule, error) {
	dir := path.Join("rules", source)
	entries, err := fs.ReadDir(rules, dir)
	if err != nil {
		return nil, nil
	}
	var out []Rule
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		name := path.Join(dir, e.Name())
		data, err := rules.ReadFile(name)
		if err != nil {
			return nil, err
		}
		rs, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
