// Package framework holds the compliance framework specs (NSA-CISA, CIS
// Kubernetes Benchmark, Pod Security Standards, MITRE ATT&CK) as embedded
// YAML. A framework item lists the Rampart control IDs that check it; the
// controls themselves know nothing of frameworks.
package framework

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	yaml "go.yaml.in/yaml/v3"
)

//go:embed specs/*.yaml
var specFS embed.FS

// Framework is one compliance framework.
type Framework struct {
	// ID is the --framework identifier, e.g. "nsa" or "pss-restricted".
	ID string `json:"id" yaml:"id"`
	// Name is the framework's full name.
	Name string `json:"name" yaml:"name"`
	// Version is the framework version mapped.
	Version string `json:"version" yaml:"version"`
	// URL points to the framework's text.
	URL string `json:"url" yaml:"url"`
	// Items are the framework's own controls, in document order.
	Items []Item `json:"items" yaml:"items"`
}

// Item is one control of a framework, checked by Rampart controls.
type Item struct {
	// ID is the framework's own identifier, e.g. "5.1.1" or "T1610".
	ID string `json:"id" yaml:"id"`
	// Name is the framework's title for the item.
	Name string `json:"name" yaml:"name"`
	// Controls lists the Rampart control IDs that check this item.
	Controls []string `json:"controls" yaml:"controls"`
}

// ControlIDs returns the distinct Rampart control IDs the framework uses.
func (f *Framework) ControlIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range f.Items {
		for _, c := range it.Controls {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Mapping is one framework item a control is mapped to.
type Mapping struct {
	// Framework is the framework ID.
	Framework string `json:"framework"`
	// Item is the framework item's ID.
	Item string `json:"item"`
	// Name is the framework item's name.
	Name string `json:"name"`
}

// Set is the loaded collection of frameworks.
type Set struct {
	list []*Framework
	byID map[string]*Framework
}

// Load parses the embedded specs.
func Load() (*Set, error) {
	s := &Set{byID: map[string]*Framework{}}
	err := fs.WalkDir(specFS, "specs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := specFS.ReadFile(p)
		if err != nil {
			return err
		}
		var f Framework
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("parsing framework spec %s: %w", p, err)
		}
		if f.ID == "" || s.byID[f.ID] != nil {
			return fmt.Errorf("framework spec %s: missing or duplicate id %q", p, f.ID)
		}
		s.byID[f.ID] = &f
		s.list = append(s.list, &f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].ID < s.list[j].ID })
	return s, nil
}

// MustLoad is Load for the embedded specs, which tests keep valid.
func MustLoad() *Set {
	s, err := Load()
	if err != nil {
		panic(err)
	}
	return s
}

// All returns the frameworks sorted by ID.
func (s *Set) All() []*Framework { return s.list }

// Get returns a framework by ID.
func (s *Set) Get(id string) (*Framework, bool) {
	f, ok := s.byID[id]
	return f, ok
}

// IDs returns every framework ID.
func (s *Set) IDs() []string {
	out := make([]string, len(s.list))
	for i, f := range s.list {
		out[i] = f.ID
	}
	return out
}

// MappingsOf returns every framework item that lists control id.
func (s *Set) MappingsOf(id string) []Mapping {
	var out []Mapping
	for _, f := range s.list {
		for _, it := range f.Items {
			for _, c := range it.Controls {
				if c == id {
					out = append(out, Mapping{Framework: f.ID, Item: it.ID, Name: it.Name})
					break
				}
			}
		}
	}
	return out
}
