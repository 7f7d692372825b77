package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/sign"
)

// ImageVerifyOptions are the flags of `rampart image verify`.
type ImageVerifyOptions struct {
	Keys               []string
	Identity           string
	IdentityRegexp     string
	OIDCIssuer         string
	OIDCIssuerRegexp   string
	TrustedRoot        string
	InsecureIgnoreTlog bool
	InsecureIgnoreSCT  bool
	Timeout            time.Duration
	Format             string
	Output             string
	FailOn             string
	NoColor            bool
}

// newCmdImageVerify builds `rampart image verify REF...`.
func newCmdImageVerify(streams IO) *cobra.Command {
	o := &ImageVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify REF...",
		Short: "Verify the cosign signatures of images, by digest, offline",
		Long: `Resolve each image reference to its manifest digest (once) and verify the
cosign signatures of that digest with sigstore-go: the legacy
sha256-<hex>.sig tag (simple-signing payloads) and Sigstore bundles attached
as OCI referrers (referrers API, or the sha256-<hex> fallback tag). A signed
payload or statement must name the image's digest.

Trust either public keys (--key cosign.pub, repeatable), or keyless
certificates that chain to the Fulcio authorities of an offline trusted root
(--trusted-root trusted_root.json, never fetched) and whose identity and
OIDC issuer match (--certificate-identity[-regexp] and
--certificate-oidc-issuer[-regexp]). Keyless signatures need a transparency
log entry and an SCT verified against the trusted root unless
--insecure-ignore-tlog / --insecure-ignore-sct (then the certificate must
be valid now, as with a private long-lived CA).

Each image is verified (who signed it), missing (no signature), invalid (a
payload naming another digest, a malformed signature, an untrusted
certificate) or other-signer (made with another key or identity); a summary
line per image goes to stderr and the report (control image-unsigned) to
stdout in any format. Registry credentials come from the docker config and
credential helpers.

Exit codes: 0 all verified, 1 an image not verified, 2 usage error or a
verification that could not be decided (registry error).`,
		Example: `  rampart image verify ghcr.io/org/app:1.4.2 --key cosign.pub
  rampart image verify ghcr.io/org/app@sha256:... \
    --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \
    --trusted-root trusted_root.json
  rampart image verify registry.local/app:dev --key cosign.pub -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runImageVerify(c.Context(), o, streams, args) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Keys, "key", nil, "trusted public key file (PEM, cosign.pub); repeatable")
	f.StringVar(&o.Identity, "certificate-identity", "", "keyless: the signing certificate's identity (email or URI SAN)")
	f.StringVar(&o.IdentityRegexp, "certificate-identity-regexp", "", "keyless: a regular expression the certificate identity must match")
	f.StringVar(&o.OIDCIssuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer recorded in the certificate")
	f.StringVar(&o.OIDCIssuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the OIDC issuer must match")
	f.StringVar(&o.TrustedRoot, "trusted-root", "", "keyless: Sigstore trusted_root.json (Fulcio CAs, Rekor and CT log keys), read offline")
	f.BoolVar(&o.InsecureIgnoreTlog, "insecure-ignore-tlog", false, "keyless: accept signatures without a transparency log entry")
	f.BoolVar(&o.InsecureIgnoreSCT, "insecure-ignore-sct", false, "keyless: accept certificates without a signed certificate timestamp")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "time limit per image")
	f.StringVarP(&o.Format, "format", "o", "table", "output format: "+strings.Join(formatNames(), "|"))
	f.StringVar(&o.Output, "output", "", "write the report to FILE instead of stdout")
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 on failing checks at or above this severity")
	f.BoolVar(&o.NoColor, "no-color", false, "never colour table output")
	return cmd
}

// policy builds the verification policy from the flags.
func (o *ImageVerifyOptions) policy() (sign.Policy, error) {
	p := sign.Policy{IgnoreTlog: o.InsecureIgnoreTlog, IgnoreSCT: o.InsecureIgnoreSCT}
	keyless := o.Identity != "" || o.IdentityRegexp != "" || o.OIDCIssuer != "" || o.OIDCIssuerRegexp != ""
	switch {
	case len(o.Keys) > 0 && keyless:
		return p, usageError("--key and --certificate-identity/--certificate-oidc-issuer exclude each other")
	case len(o.Keys) == 0 && !keyless:
		return p, usageError("give --key FILE, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp] and --trusted-root")
	}
	for _, path := range o.Keys {
		k, err := sign.LoadPublicKey(path)
		if err != nil {
			return p, usageError("--key: %v", err)
		}
		p.Keys = append(p.Keys, k)
	}
	if !keyless {
		return p, nil
	}
	if (o.Identity == "") == (o.IdentityRegexp == "") {
		return p, usageError("give exactly one of --certificate-identity and --certificate-identity-regexp")
	}
	if (o.OIDCIssuer == "") == (o.OIDCIssuerRegexp == "") {
		return p, usageError("give exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp")
	}
	if o.TrustedRoot == "" {
		return p, usageError("keyless verification needs --trusted-root trusted_root.json (it is never fetched online)")
	}
	tr, err := sign.LoadTrustedRoot(o.TrustedRoot)
	if err != nil {
		return p, usageError("--trusted-root: %v", err)
	}
	p.TrustedRoot = tr
	p.Identities = []sign.Identity{{Subject: o.Identity, SubjectRegexp: o.IdentityRegexp, Issuer: o.OIDCIssuer, IssuerRegexp: o.OIDCIssuerRegexp}}
	return p, nil
}

func runImageVerify(ctx context.Context, o *ImageVerifyOptions, streams IO, refs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	failOn, err := control.ParseSeverity(o.FailOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	w, ok := writers[o.Format]
	if !ok {
		return usageError("unknown --format %q (want %s)", o.Format, strings.Join(formatNames(), "|"))
	}
	p, err := o.policy()
	if err != nil {
		return err
	}
	v, err := sign.New(sign.Config{
		Policy:        p,
		Timeout:       o.Timeout,
		RemoteOptions: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)},
	})
	if err != nil {
		return usageError("%v", err)
	}
	outcomes := make([]sign.Outcome, 0, len(refs))
	for _, ref := range refs {
		rctx, cancel := context.WithTimeout(ctx, o.Timeout)
		res, err := v.Verify(rctx, ref)
		cancel()
		outcomes = append(outcomes, sign.Outcome{Ref: ref, Result: res, Err: err})
		if err != nil {
			fmt.Fprintf(streams.Err, "%s: error: %v\n", ref, err)
			continue
		}
		fmt.Fprintln(streams.Err, res.Summary())
	}
	rep, err := sign.Report(Version, outcomes)
	if err != nil {
		return err
	}
	return writeReport(streams, rep, w, reportOptions{Output: o.Output, NoColor: o.NoColor, FailOn: failOn})
}
