// Package config reads Rampart's configuration file (--config): default
// flags, check settings and exceptions.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
)

// Config is the content of a configuration file.
type Config struct {
	// Frameworks restricts the scan to these framework IDs.
	Frameworks []string `yaml:"frameworks"`
	// Controls restricts the scan to these control IDs.
	Controls []string `yaml:"controls"`
	// ExcludeControls removes control IDs from the scan.
	ExcludeControls []string `yaml:"excludeControls"`
	// Severity is the minimum severity shown.
	Severity string `yaml:"severity"`
	// FailOn is the minimum severity that makes the scan exit 1.
	FailOn string `yaml:"failOn"`
	// Settings tune checks.
	Settings control.Settings `yaml:"settings"`
	// Exceptions except findings by control, kind, namespace and name.
	Exceptions []engine.Exception `yaml:"exceptions"`
	// Webhook configures rampart webhook serve.
	Webhook Webhook `yaml:"webhook"`
}

// Webhook is the admission policy of rampart webhook serve. A namespace's
// rampart.dev/enforce, rampart.dev/warn and rampart.dev/audit labels
// override Enforce, Warn and Audit for requests in that namespace.
type Webhook struct {
	// Enforce, Warn and Audit are the cluster-default modes. Each is a
	// severity (the mode covers failures at or above it), a framework ID
	// (the mode covers that framework's controls), or "off". Empty means
	// the default: enforce off, warn high, audit info.
	Enforce string `yaml:"enforce"`
	// Warn: see Enforce.
	Warn string `yaml:"warn"`
	// Audit: see Enforce.
	Audit string `yaml:"audit"`
	// ExemptNamespaces are exempt besides kube-system and Rampart's own
	// namespace.
	ExemptNamespaces []string `yaml:"exemptNamespaces"`
	// ExemptUsers are user names whose requests are exempt.
	ExemptUsers []string `yaml:"exemptUsers"`
	// ExemptGroups are groups whose members' requests are exempt.
	ExemptGroups []string `yaml:"exemptGroups"`
	// DenyLatestTag enforces the image-tag-latest control in every namespace
	// that is not exempt, whatever its mode.
	DenyLatestTag bool `yaml:"denyLatestTag"`
	// RequireAllowedRegistries enforces the untrusted-registry control
	// (settings.allowedRegistries) in every namespace that is not exempt.
	RequireAllowedRegistries bool `yaml:"requireAllowedRegistries"`
	// Images holds the image signature policy.
	Images Images `yaml:"images"`
}

// Images is the admission image policy.
type Images struct {
	// RequireSignature rules are enforced (image-unsigned) on every image
	// of a pod-bearing object they match, in namespaces that are not
	// exempt: the image's digest must carry a cosign signature trusted by
	// the rule.
	RequireSignature []SignatureRule `yaml:"requireSignature"`
}

// SignatureRule requires signatures on the images it matches.
type SignatureRule struct {
	// Registries are image reference prefixes (e.g. ghcr.io/acme/); empty
	// matches every image.
	Registries []string `yaml:"registries"`
	// Namespaces are namespace globs; empty matches every namespace.
	Namespaces []string `yaml:"namespaces"`
	// Keys are cosign public key files (PEM).
	Keys []string `yaml:"keys"`
	// Identities are accepted keyless signers; they need TrustedRoot.
	Identities []SignatureIdentity `yaml:"identities"`
	// TrustedRoot is a Sigstore trusted_root.json (never fetched online).
	TrustedRoot string `yaml:"trustedRoot"`
}

// SignatureIdentity is a keyless signer: the certificate's subject (SAN)
// and OIDC issuer, exact or by regular expression.
type SignatureIdentity struct {
	Subject       string `yaml:"subject"`
	SubjectRegexp string `yaml:"subjectRegexp"`
	Issuer        string `yaml:"issuer"`
	IssuerRegexp  string `yaml:"issuerRegexp"`
}

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses configuration data; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	for _, s := range []string{c.Severity, c.FailOn} {
		if s != "" {
			if _, err := control.ParseSeverity(s); err != nil {
				return nil, fmt.Errorf("config %s: %w", name, err)
			}
		}
	}
	for i, x := range c.Exceptions {
		if x.Reason == "" {
			return nil, fmt.Errorf("config %s: exception %d has no reason", name, i+1)
		}
		if x.Expires != "" {
			if _, err := time.Parse(time.DateOnly, x.Expires); err != nil {
				return nil, fmt.Errorf("config %s: exception %d: expires %q is not a YYYY-MM-DD date", name, i+1, x.Expires)
			}
		}
	}
	return &c, nil
}
