package webhook

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	signing "github.com/rampart-dev/rampart/internal/sign"
)

// ImagePolicy enforces images.requireSignature: every image of a
// pod-bearing object that a rule matches must carry a cosign signature the
// rule trusts, for its digest. Each tag is resolved to its digest once per
// request, never per container; verification results are cached by digest
// and concurrent verifications of one digest are coalesced (signing.Verifier).
type ImagePolicy struct {
	rules    []signatureRule
	unsigned *control.Control
}

type signatureRule struct {
	registries []string
	namespaces []string
	verifier   *signing.Verifier
}

// NewImagePolicy compiles the rules of cfg; unsigned is the image-unsigned
// control the violations are reported under; base configures the
// verifiers' registry access (transport, keychain, limits). It returns nil
// when cfg has no rule.
func NewImagePolicy(cfg config.Images, unsigned *control.Control, base signing.Config) (*ImagePolicy, error) {
	if len(cfg.RequireSignature) == 0 {
		return nil, nil
	}
	p := &ImagePolicy{unsigned: unsigned}
	for i, r := range cfg.RequireSignature {
		pol := signing.Policy{}
		for _, f := range r.Keys {
			k, err := signing.LoadPublicKey(f)
			if err != nil {
				return nil, fmt.Errorf("webhook.images.requireSignature[%d]: key: %w", i, err)
			}
			pol.Keys = append(pol.Keys, k)
		}
		for _, id := range r.Identities {
			pol.Identities = append(pol.Identities, signing.Identity{Subject: id.Subject, SubjectRegexp: id.SubjectRegexp, Issuer: id.Issuer, IssuerRegexp: id.IssuerRegexp})
		}
		if r.TrustedRoot != "" {
			tr, err := signing.LoadTrustedRoot(r.TrustedRoot)
			if err != nil {
				return nil, fmt.Errorf("webhook.images.requireSignature[%d]: trustedRoot: %w", i, err)
			}
			pol.TrustedRoot = tr
		}
		c := base
		c.Policy = pol
		v, err := signing.New(c)
		if err != nil {
			return nil, fmt.Errorf("webhook.images.requireSignature[%d]: %w", i, err)
		}
		p.rules = append(p.rules, signatureRule{registries: r.Registries, namespaces: r.Namespaces, verifier: v})
	}
	return p, nil
}

func (r *signatureRule) matches(namespace, image string) bool {
	if len(r.namespaces) > 0 && !globAnyOf(r.namespaces, namespace) {
		return false
	}
	if len(r.registries) == 0 {
		return true
	}
	for _, pre := range r.registries {
		if strings.HasPrefix(image, pre) {
			return true
		}
	}
	return false
}

func globAnyOf(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

// Check returns the image-unsigned violations of a pod-bearing object in
// namespace: one per container whose image a rule matches and whose digest
// does not carry a signature that rule trusts.
func (p *ImagePolicy) Check(ctx context.Context, namespace string, obj *k8s.Object) []control.Violation {
	ps, ok := k8s.PodSpecOf(obj)
	if !ok {
		return nil
	}
	type resolved struct {
		digest name.Digest
		err    error
	}
	digests := map[string]resolved{} // one resolution per image per request
	var out []control.Violation
	for _, c := range ps.Containers() {
		image := k8s.Str(c.Spec, "image")
		if image == "" {
			continue
		}
		for i := range p.rules {
			r := &p.rules[i]
			if !r.matches(namespace, image) {
				continue
			}
			res, ok := digests[image]
			if !ok {
				d, err := r.verifier.Resolve(ctx, image)
				res = resolved{digest: d, err: err}
				digests[image] = res
			}
			v := control.Violation{Path: c.Path + ".image", Container: c.Name}
			if res.err != nil {
				v.Message = fmt.Sprintf("container %q: image %s cannot be resolved to a digest, so its signature cannot be verified: %v", c.Name, image, res.err)
				out = append(out, v)
				continue
			}
			result, err := r.verifier.VerifyDigest(ctx, res.digest)
			switch {
			case err != nil:
				v.Message = fmt.Sprintf("container %q: the signature of %s cannot be verified: %v", c.Name, res.digest, err)
			case result.Status != signing.Verified:
				v.Message = fmt.Sprintf("container %q: %s", c.Name, result.Summary())
			default:
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// judge turns image violations into enforced verdicts with the engine's
// exceptions applied.
func (p *ImagePolicy) judge(ev Evaluator, obj *k8s.Object, vs []control.Violation) []engine.Verdict {
	j, _ := ev.(interface {
		Judge(c *control.Control, obj *k8s.Object, v control.Violation) engine.Verdict
	})
	out := make([]engine.Verdict, 0, len(vs))
	for _, v := range vs {
		if j != nil {
			out = append(out, j.Judge(p.unsigned, obj, v))
			continue
		}
		out = append(out, engine.Verdict{Control: p.unsigned, Violation: v, Severity: p.unsigned.Severity, Status: control.StatusFail})
	}
	return out
}
