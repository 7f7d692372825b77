package workload

import (
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// dockerHub is the canonical name of the registry bare image names refer to.
const dockerHub = "docker.io"

// ImageRef is a container image reference split into its parts.
type ImageRef struct {
	// Registry is the registry host (with port), "docker.io" when the
	// reference names none.
	Registry string
	// Repository is the path inside the registry as written, without the
	// implicit "library/" of Docker Hub official images.
	Repository string
	// Tag is the tag, "" when none is written.
	Tag string
	// Digest is the digest after '@' (e.g. "sha256:…"), "" when none.
	Digest string
}

// ParseImage splits an image reference such as
// "registry:5000/team/app:1.2@sha256:…" into registry, repository, tag and
// digest, following the Docker reference grammar: the first path component
// is a registry host when it contains '.' or ':', is "localhost" or has an
// upper-case letter; otherwise the image is on Docker Hub. A ':' before the
// last '/' is a registry port, never a tag. It does not allocate.
func ParseImage(ref string) ImageRef {
	var img ImageRef
	rest := ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		img.Digest = rest[i+1:]
		rest = rest[:i]
	}
	slash := strings.LastIndexByte(rest, '/')
	if c := strings.LastIndexByte(rest, ':'); c > slash {
		img.Tag = rest[c+1:]
		rest = rest[:c]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 && isRegistryHost(rest[:i]) {
		img.Registry = canonicalRegistry(rest[:i])
		img.Repository = rest[i+1:]
	} else {
		img.Registry = dockerHub
		img.Repository = rest
	}
	return img
}

// isRegistryHost applies Docker's rule for the first path component.
func isRegistryHost(s string) bool {
	if s == "localhost" || strings.ContainsAny(s, ".:") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// canonicalRegistry maps Docker Hub's aliases to "docker.io".
func canonicalRegistry(host string) string {
	switch strings.ToLower(host) {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHub
	}
	return host
}

// Pinned reports whether the reference carries a content digest
// ("algorithm:hex", e.g. "sha256:" followed by 64 hex digits).
func (i ImageRef) Pinned() bool {
	alg, hex, ok := strings.Cut(i.Digest, ":")
	if !ok || alg == "" || len(hex) < 32 {
		return false
	}
	for j := 0; j < len(hex); j++ {
		c := hex[j]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// FloatingTag reports whether the image has no digest and its tag is
// "latest" or absent (which the runtime resolves to "latest").
func (i ImageRef) FloatingTag() bool {
	return i.Digest == "" && (i.Tag == "" || i.Tag == "latest")
}

// imageOf returns the container's image and whether it is a concrete
// reference worth checking (not empty, not an unexpanded variable).
func imageOf(ct k8s.Container) (string, bool) {
	img := strings.TrimSpace(k8s.Str(ct.Spec, "image"))
	if img == "" || strings.ContainsAny(img, "${} ") {
		return "", false
	}
	return img, true
}

func imageTagLatest(c *control.Context, p *pod) {
	for _, ct := range p.containers {
		img, ok := imageOf(ct)
		if !ok {
			continue
		}
		ref := ParseImage(img)
		if !ref.FloatingTag() {
			continue
		}
		if ref.Tag == "" {
			c.Failf(ct.Path+".image", ct.Name, "container %q uses image %q without a tag, which resolves to the mutable \"latest\"", ct.Name, img)
		} else {
			c.Failf(ct.Path+".image", ct.Name, "container %q uses image %q with the mutable \"latest\" tag", ct.Name, img)
		}
	}
}

func imageNotPinned(c *control.Context, p *pod) {
	for _, ct := range p.containers {
		img, ok := imageOf(ct)
		if !ok || ParseImage(img).Pinned() {
			continue
		}
		c.Failf(ct.Path+".image", ct.Name, "container %q uses image %q, which is not pinned to a digest (@sha256:…)", ct.Name, img)
	}
}

// registryPrefix is one parsed entry of Settings.AllowedRegistries.
type registryPrefix struct {
	registry string
	repo     string // "" allows the whole registry
}

// parseAllowed parses an allowed-registry entry such as "ghcr.io/acme",
// "registry.example.com", "localhost:5000" or "docker.io/library".
func parseAllowed(s string) (registryPrefix, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.Trim(s, "/")
	if s == "" {
		return registryPrefix{}, false
	}
	host, repo, _ := strings.Cut(s, "/")
	return registryPrefix{registry: strings.ToLower(canonicalRegistry(host)), repo: repo}, true
}

// allows reports whether img comes from the registry prefix p. The prefix
// matches on whole path components: "ghcr.io/acme" allows
// "ghcr.io/acme/app" but not "ghcr.io/acme-evil/app". Docker Hub official
// images ("nginx") live under "docker.io/library/".
func (p registryPrefix) allows(img ImageRef) bool {
	if !strings.EqualFold(img.Registry, p.registry) {
		return false
	}
	if p.repo == "" {
		return true
	}
	repo := img.Repository
	if img.Registry == dockerHub && !strings.Contains(repo, "/") {
		if p.repo == "library" {
			return true
		}
		if rest, ok := strings.CutPrefix(p.repo, "library/"); ok {
			return repo == rest
		}
		// "docker.io/nginx" is the usual way to write the official image.
		return repo == p.repo
	}
	return repo == p.repo || (strings.HasPrefix(repo, p.repo) && repo[len(p.repo)] == '/')
}

// AllowedBy reports whether image comes from one of the allowed registry
// prefixes. An empty list allows everything.
func AllowedBy(image string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	ref := ParseImage(image)
	usable := false
	for _, a := range allowed {
		p, ok := parseAllowed(a)
		if !ok {
			continue
		}
		usable = true
		if p.allows(ref) {
			return true
		}
	}
	return !usable
}

func untrustedRegistry(c *control.Context, p *pod) {
	if c.Settings == nil || len(c.Settings.AllowedRegistries) == 0 {
		return
	}
	allowed := c.Settings.AllowedRegistries
	for _, ct := range p.containers {
		img, ok := imageOf(ct)
		if !ok || AllowedBy(img, allowed) {
			continue
		}
		c.Failf(ct.Path+".image", ct.Name, "container %q pulls image %q from registry %q, outside the allowed registries (%s)", ct.Name, img, ParseImage(img).Registry, strings.Join(allowed, ", "))
	}
}
