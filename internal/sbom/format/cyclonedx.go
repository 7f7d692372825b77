package format

import (
	"io"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// CycloneDX writes s as a CycloneDX 1.6 JSON BOM: the image as the
// metadata component (a container, with its digest), the distribution as
// an operating-system component and each package as a library with its
// purl, licences and the properties rampart:ecosystem, rampart:path,
// rampart:layer and rampart:source.
func CycloneDX(w io.Writer, s *sbom.SBOM, o Options) error {
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.Metadata = &cdx.Metadata{
		Timestamp: o.created().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "rampart", Version: o.ToolVersion,
		}}},
		Component: &cdx.Component{
			BOMRef: "image", Type: cdx.ComponentTypeContainer, Name: imageName(s),
			Version: s.Image.Digest,
			Properties: props(
				"rampart:platform", s.Image.Platform,
				"rampart:digest", s.Image.Digest,
			),
		},
	}
	var comps []cdx.Component
	var deps []string
	if s.Distro != nil {
		comps = append(comps, cdx.Component{
			BOMRef: "os", Type: cdx.ComponentTypeOS, Name: s.Distro.ID, Version: s.Distro.VersionID,
			Description: s.Distro.PrettyName,
		})
		deps = append(deps, "os")
	}
	for i, p := range s.Packages {
		c := cdx.Component{
			BOMRef:     ref("pkg-", i, p),
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
			Properties: props(
				"rampart:ecosystem", string(p.Ecosystem),
				"rampart:path", p.Path,
				"rampart:layer", p.Layer,
				"rampart:source", p.SourceName,
				"rampart:sourceVersion", p.SourceVersion,
			),
		}
		if len(p.Licenses) > 0 {
			lc := make(cdx.Licenses, 0, len(p.Licenses))
			for _, l := range p.Licenses {
				lc = append(lc, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			c.Licenses = &lc
		}
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: "image", Dependencies: &deps}}
	return cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(bom, cdx.SpecVersion1_6)
}

// props turns name, value pairs into properties, leaving out empty values.
func props(kv ...string) *[]cdx.Property {
	var out []cdx.Property
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, cdx.Property{Name: kv[i], Value: kv[i+1]})
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &out
}
