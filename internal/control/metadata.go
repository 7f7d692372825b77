package control

import (
	"bytes"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// ParseMetadata parses a YAML list of control metadata, rejecting unknown
// fields and duplicate IDs.
func ParseMetadata(data []byte) (map[string]Metadata, error) {
	var list []Metadata
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("parsing control metadata: %w", err)
	}
	out := make(map[string]Metadata, len(list))
	for _, m := range list {
		if _, dup := out[m.ID]; dup {
			return nil, fmt.Errorf("parsing control metadata: duplicate ID %s", m.ID)
		}
		out[m.ID] = m
	}
	return out, nil
}

// UnmarshalYAML lets severities be written by name in metadata files.
func (s *Severity) UnmarshalYAML(n *yaml.Node) error { return s.UnmarshalText([]byte(n.Value)) }

// Bind joins metadata to check logic by ID. Every logic entry needs
// metadata and every metadata entry needs logic.
func Bind(meta map[string]Metadata, logic []*Control) ([]*Control, error) {
	seen := map[string]bool{}
	out := make([]*Control, 0, len(logic))
	for _, c := range logic {
		m, ok := meta[c.ID]
		if !ok {
			return nil, fmt.Errorf("control %s has logic but no metadata", c.ID)
		}
		c.Metadata = m
		seen[c.ID] = true
		out = append(out, c)
	}
	for id := range meta {
		if !seen[id] {
			return nil, fmt.Errorf("control %s has metadata but no logic", id)
		}
	}
	return out, nil
}

// Family parses a family's embedded metadata and binds it to the family's
// check logic: what every library family's Controls function does.
func Family(metadata []byte, logic []*Control) ([]*Control, error) {
	meta, err := ParseMetadata(metadata)
	if err != nil {
		return nil, err
	}
	return Bind(meta, logic)
}
