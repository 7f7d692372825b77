package sign

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Annotation keys and media types of cosign's signature formats.
const (
	// AnnotationSignature holds the base64 signature of a .sig layer.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// AnnotationCertificate holds the PEM signing certificate (keyless).
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	// AnnotationChain holds the PEM chain of the signing certificate.
	AnnotationChain = "dev.sigstore.cosign/chain"
	// AnnotationBundle holds the Rekor entry (signed entry timestamp).
	AnnotationBundle = "dev.sigstore.cosign/bundle"
	// SimpleSigningMediaType is the media type of a .sig layer.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// BundleArtifactType is the artifact type of a Sigstore bundle referrer.
	BundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// CosignSignPredicate is the in-toto predicate type of `cosign sign`
	// with the bundle format.
	CosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
	// simpleSigningType is the critical.type of a cosign payload.
	simpleSigningType = "cosign container image signature"
)

// simpleSigning is cosign's signed payload (Red Hat simple signing).
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// parseSimpleSigning returns the digest a simple-signing payload signs.
func parseSimpleSigning(b []byte) (string, error) {
	var p simpleSigning
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("payload is not simple-signing JSON: %w", err)
	}
	if !strings.EqualFold(p.Critical.Type, simpleSigningType) {
		return "", fmt.Errorf("payload critical.type is %q, want %q", p.Critical.Type, simpleSigningType)
	}
	d := p.Critical.Image.DockerManifestDigest
	if d == "" {
		return "", fmt.Errorf("payload has no critical.image.docker-manifest-digest")
	}
	return d, nil
}

// statement is the part of an in-toto statement the verifier reads before
// checking the signature over it.
type statement struct {
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string `json:"predicateType"`
}

// parseStatement returns the sha256 subjects and predicate type of an
// in-toto statement.
func parseStatement(b []byte) ([]string, string, error) {
	var s statement
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, "", fmt.Errorf("DSSE payload is not an in-toto statement: %w", err)
	}
	var subjects []string
	for _, sub := range s.Subject {
		if h := sub.Digest["sha256"]; h != "" {
			subjects = append(subjects, "sha256:"+h)
		}
	}
	return subjects, s.PredicateType, nil
}

// decodeSignature decodes the base64 signature annotation.
func decodeSignature(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("signature annotation is not base64: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("signature annotation is empty")
	}
	return b, nil
}
