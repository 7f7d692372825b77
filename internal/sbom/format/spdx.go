package format

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/rampart-dev/rampart/internal/sbom"
)

// SPDX writes s as an SPDX 2.3 JSON document: the document DESCRIBES the
// image package, which CONTAINS the distribution and every package (purl
// as a PACKAGE-MANAGER external reference; declared licences where the
// package states them, NOASSERTION otherwise). The document namespace is
// derived from the image and the creation time.
func SPDX(w io.Writer, s *sbom.SBOM, o Options) error {
	created := o.created().Format(time.RFC3339)
	name := imageName(s)
	h := sha256.Sum256([]byte(name + "\x00" + s.Image.Digest + "\x00" + created))
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://rampart.dev/spdx/" + sanitize(name) + "-" + hex.EncodeToString(h[:8]),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "rampart-" + o.ToolVersion}},
			Created:  created,
		},
	}
	root := &spdx.Package{
		PackageName: name, PackageSPDXIdentifier: "Image", PackageVersion: s.Image.Digest,
		PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER",
		PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
	}
	if s.Image.Platform != "" {
		root.PackageComment = "platform " + s.Image.Platform
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", "Image"), Relationship: "DESCRIBES",
	})
	contain := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	if s.Distro != nil {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: s.Distro.ID, PackageSPDXIdentifier: "OperatingSystem", PackageVersion: s.Distro.VersionID,
			PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "OPERATING_SYSTEM",
			PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
		})
		contain("OperatingSystem")
	}
	for i, p := range s.Packages {
		id := common.ElementID(ref("Package-", i, p))
		sp := &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "LIBRARY",
			PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
			PackageSourceInfo: sourceInfo(p),
		}
		if len(p.Licenses) > 0 {
			// Declared licences are kept as the package states them, in the
			// comment: SPDX wants license expressions there, and distribution
			// and Python metadata often hold free text.
			sp.PackageLicenseComments = "declared: " + strings.Join(p.Licenses, "; ")
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		contain(id)
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "))
}

func sourceInfo(p sbom.Package) string {
	var b strings.Builder
	b.WriteString("found in " + p.Path)
	if p.Layer != "" {
		b.WriteString(" (layer " + p.Layer + ")")
	}
	if p.SourceName != "" {
		b.WriteString("; source package " + p.SourceName + " " + p.SourceVersion)
	}
	return b.String()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
