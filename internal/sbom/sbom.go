// Package sbom is the software bill of materials model shared by image
// analysis (what is installed), vulnerability matching (what is known to be
// vulnerable) and the SBOM writers (CycloneDX, SPDX).
package sbom

// Ecosystem names a package ecosystem as OSV spells it, without the
// release suffix: "Debian", "Ubuntu", "Alpine", "Red Hat", "AlmaLinux",
// "Rocky Linux", "Go", "npm", "PyPI", "Maven".
type Ecosystem string

// Ecosystems.
const (
	Debian    Ecosystem = "Debian"
	Ubuntu    Ecosystem = "Ubuntu"
	Alpine    Ecosystem = "Alpine"
	RedHat    Ecosystem = "Red Hat"
	AlmaLinux Ecosystem = "AlmaLinux"
	Rocky     Ecosystem = "Rocky Linux"
	Go        Ecosystem = "Go"
	Npm       Ecosystem = "npm"
	PyPI      Ecosystem = "PyPI"
	Maven     Ecosystem = "Maven"
)

// Distro is the operating system of an image, from its os-release file.
type Distro struct {
	// ID is os-release ID (debian, ubuntu, alpine, rhel, almalinux, rocky…).
	ID string `json:"id"`
	// VersionID is os-release VERSION_ID (12, 22.04, 3.19.1, 9.3…).
	VersionID string `json:"versionID"`
	// PrettyName is os-release PRETTY_NAME.
	PrettyName string `json:"prettyName,omitempty"`
}

// Package is one installed package.
type Package struct {
	// Name is the package name as its ecosystem spells it (the binary
	// package for distributions; module path for Go; groupId:artifactId
	// for Maven).
	Name string `json:"name"`
	// Version is the installed version, in the ecosystem's own syntax
	// (dpkg epoch:upstream-revision, apk, rpm epoch:version-release,
	// semver for Go and npm, PEP 440, Maven).
	Version string `json:"version"`
	// Ecosystem is the package's ecosystem.
	Ecosystem Ecosystem `json:"ecosystem"`
	// SourceName and SourceVersion are the distribution source package
	// (dpkg Source, apk origin, rpm source rpm), which distribution
	// advisories name; empty when the same as Name and Version.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// PURL is the package URL (https://github.com/package-url/purl-spec).
	PURL string `json:"purl,omitempty"`
	// Licenses are SPDX license expressions or names, when declared.
	Licenses []string `json:"licenses,omitempty"`
	// Path is the file the package was found in (status file, binary,
	// lock file, jar), inside the image.
	Path string `json:"path,omitempty"`
	// Layer is the digest of the layer that introduced the package.
	Layer string `json:"layer,omitempty"`
}

// Image identifies the analysed image.
type Image struct {
	// Ref is the reference or path as given.
	Ref string `json:"ref"`
	// Digest is the manifest digest (sha256:…) of the analysed image.
	Digest string `json:"digest,omitempty"`
	// Platform is os/arch[/variant] of the analysed image.
	Platform string `json:"platform,omitempty"`
}

// SBOM is what an image contains.
type SBOM struct {
	// Image is the analysed image.
	Image Image `json:"image"`
	// Distro is nil when no os-release file was found.
	Distro *Distro `json:"distro,omitempty"`
	// Packages are sorted by ecosystem, name, version and path.
	Packages []Package `json:"packages"`
}
