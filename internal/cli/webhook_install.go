package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// WebhookInstallOptions are the flags of `rampart webhook install`.
type WebhookInstallOptions struct {
	Name              string
	Namespace         string
	FailClosed        bool
	ExcludeNamespaces []string
	Replicas          int32
	Image             string
	ConfigFile        string
	Background        time.Duration
	CertManager       bool
	NoSecret          bool
	Apply             bool
	Format            string
	Kubeconfig        string
	Context           string
}

func newCmdWebhookInstall(streams IO) *cobra.Command {
	o := &WebhookInstallOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Print or apply the webhook's Deployment, Service, RBAC, TLS and registration",
		Long: `Print (default) or apply (--apply) everything the admission webhook needs:
the Namespace, a ServiceAccount, a least-privilege ClusterRole and binding,
a Service (443 → 8443), a Deployment (3 replicas spread over nodes and
zones, non-root, read-only root filesystem, no capabilities, seccomp
RuntimeDefault), a PodDisruptionBudget, a NetworkPolicy, the TLS material
and the ValidatingWebhookConfiguration with its CA bundle.

The registration uses failurePolicy Ignore and timeoutSeconds 3, and keeps
kube-system, Rampart's namespace and Rampart's own objects out, so that a
failing webhook never blocks the cluster. --fail-closed sets failurePolicy
Fail instead: nothing the webhook judges is admitted while it is down
(see docs/webhook.md for the trade-off).

TLS is self-signed by default: a CA (10 years, its key in the Secret
<name>-ca that no pod mounts) and a serving certificate (1 year) in the
Secret <name>-tls, ECDSA P-256. THE PRINTED OUTPUT INCLUDES THESE SECRETS
WITH THEIR PRIVATE KEYS; --no-secret leaves them out. With --apply, an
existing CA is reused and the serving certificate is replaced only when it
expires within 30 days: the CA bundle stays the same and the servers reload
the new certificate, so no request fails. Run it again (for example from a
monthly CronJob or CI) to rotate. --cert-manager emits cert-manager Issuers
and Certificates instead (renewed 30 days before expiry) and has cert-manager
inject the CA bundle; no key material is printed.

--apply uses server-side apply with the field manager "rampart".`,
		Example: `  rampart webhook install --no-secret > webhook.yaml
  rampart webhook install --apply --config rampart.yaml --background 1h
  rampart webhook install --cert-manager --image ghcr.io/rampart-dev/rampart@sha256:<digest> | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWebhookInstall(cmd.Context(), o, streams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", webhook.DefaultName, "name of the webhook configuration, Service, Deployment and their objects")
	f.StringVar(&o.Namespace, "namespace", webhook.DefaultNamespace, "Rampart's namespace (exempt from the webhook)")
	f.BoolVar(&o.FailClosed, "fail-closed", false, "failurePolicy Fail: deny what the webhook judges while it is unreachable (default Ignore)")
	f.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "namespaces the webhook never sees, besides kube-system and --namespace")
	f.Int32Var(&o.Replicas, "replicas", webhook.DefaultReplicas, "webhook replicas")
	f.StringVar(&o.Image, "image", "", "container image, by tag or digest (default "+webhook.DefaultImage+":<version>)")
	f.StringVar(&o.ConfigFile, "config", "", "configuration FILE (webhook modes, exemptions, settings, exceptions), mounted from a ConfigMap")
	f.DurationVar(&o.Background, "background", 0, "rescan existing objects at this interval (0: off); adds read-only scanning rules to the ClusterRole")
	f.BoolVar(&o.CertManager, "cert-manager", false, "use cert-manager Issuers and Certificates instead of self-signed Secrets")
	f.BoolVar(&o.NoSecret, "no-secret", false, "leave the TLS Secrets (private keys) out of the printed objects")
	f.BoolVar(&o.Apply, "apply", false, "apply the objects to the cluster (server-side apply) instead of printing them")
	f.StringVarP(&o.Format, "output", "o", "yaml", "output format: yaml|json")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for --apply (default $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context for --apply")
	return cmd
}

func runWebhookInstall(ctx context.Context, o *WebhookInstallOptions, streams IO) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Format != "yaml" && o.Format != "json" {
		return usageError("--output: want yaml or json, not %q", o.Format)
	}
	if o.Replicas < 1 {
		return usageError("--replicas must be at least 1")
	}
	if o.Background < 0 || (o.Background > 0 && o.Background < time.Minute) {
		return usageError("--background must be 0 (off) or at least 1m")
	}
	if o.Apply && o.NoSecret {
		return usageError("--no-secret is for printing: --apply manages the Secrets itself")
	}
	if o.CertManager && o.NoSecret {
		return usageError("--no-secret: with --cert-manager no Secret is printed anyway")
	}
	opts := webhook.InstallOptions{
		Name: o.Name, Namespace: o.Namespace, Image: firstNonEmpty(o.Image, webhook.DefaultImage+":"+Version),
		Replicas: o.Replicas, FailClosed: o.FailClosed, ExcludeNamespaces: o.ExcludeNamespaces,
		Background: o.Background, CertManager: o.CertManager, NoSecret: o.NoSecret,
	}
	if o.ConfigFile != "" {
		if _, err := config.Load(o.ConfigFile); err != nil {
			return usageError("%v", err)
		}
		b, err := os.ReadFile(o.ConfigFile)
		if err != nil {
			return usageError("--config: %v", err)
		}
		opts.Config = b
	}
	dnsNames := webhook.ServiceDNSNames(opts.Name, opts.Namespace)
	if !o.Apply {
		if !o.CertManager {
			m, _, err := webhook.EnsureTLS(nil, dnsNames, time.Now())
			if err != nil {
				return &ExitError{Code: ExitUsage, Message: err.Error()}
			}
			opts.TLS = &m
		}
		objs, err := webhook.Manifests(opts)
		if err != nil {
			return usageError("%v", err)
		}
		header := []string{"Generated by rampart webhook install " + strings.Join(installArgs(o), " ")}
		if !o.CertManager && !o.NoSecret {
			header = append(header, "This stream holds the webhook's TLS private keys (Secrets "+webhook.CASecretName(opts.Name)+
				" and "+webhook.TLSSecretName(opts.Name)+"): treat it as a secret, or use --no-secret.")
		}
		return webhook.WriteManifests(streams.Out, objs, o.Format, header)
	}

	rc, contextName, err := RESTConfig(o.Kubeconfig, o.Context)
	if err != nil {
		return usageError("%v", err)
	}
	if err := applyInstall(ctx, rc, opts, streams); err != nil {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("webhook install (context %s): %v", contextName, err)}
	}
	return nil
}

// installArgs renders the options that shape the output, for the header.
func installArgs(o *WebhookInstallOptions) []string {
	var a []string
	add := func(cond bool, s string) {
		if cond {
			a = append(a, s)
		}
	}
	add(o.Name != webhook.DefaultName, "--name "+o.Name)
	add(o.Namespace != webhook.DefaultNamespace, "--namespace "+o.Namespace)
	add(o.CertManager, "--cert-manager")
	add(o.NoSecret, "--no-secret")
	add(o.FailClosed, "--fail-closed")
	add(len(o.ExcludeNamespaces) > 0, "--exclude-namespaces "+strings.Join(o.ExcludeNamespaces, ","))
	add(o.Replicas != webhook.DefaultReplicas, fmt.Sprintf("--replicas %d", o.Replicas))
	add(o.Image != "", "--image "+o.Image)
	add(o.ConfigFile != "", "--config "+o.ConfigFile)
	add(o.Background > 0, "--background "+o.Background.String())
	add(o.Format != "yaml", "-o "+o.Format)
	return a
}

// applyInstall applies the installation with server-side apply. With
// self-signed TLS it first reads the Secrets already there, so that the CA
// is kept and the serving certificate replaced only when due.
func applyInstall(ctx context.Context, rc *rest.Config, opts webhook.InstallOptions, streams IO) error {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	if !opts.CertManager {
		prev, err := readTLS(ctx, cs, opts.Name, opts.Namespace)
		if err != nil {
			return err
		}
		m, changes, err := webhook.EnsureTLS(prev, webhook.ServiceDNSNames(opts.Name, opts.Namespace), time.Now())
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			changes = []string{"TLS material kept: the CA and the serving certificate are valid for more than 30 days"}
		}
		for _, c := range changes {
			_, _ = fmt.Fprintf(streams.Err, "tls: %s\n", c)
		}
		opts.TLS = &m
	}
	objs, err := webhook.Manifests(opts)
	if err != nil {
		return err
	}
	for _, u := range objs {
		gvr, err := webhook.GVR(u)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := u.GetNamespace(); ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: webhook.FieldManager, Force: true}); err != nil {
			hint := ""
			if gvr.Group == "cert-manager.io" && (apierrors.IsNotFound(err) || strings.Contains(err.Error(), "the server could not find")) {
				hint = " (is cert-manager installed?)"
			}
			return fmt.Errorf("applying %s %s: %w%s", u.GetKind(), qualified(u.GetNamespace(), u.GetName()), err, hint)
		}
		_, _ = fmt.Fprintf(streams.Out, "%s/%s serverside-applied\n", strings.ToLower(u.GetKind()), u.GetName())
	}
	return nil
}

// readTLS reads the self-signed material from the CA and serving Secrets;
// nil when there is none yet.
func readTLS(ctx context.Context, cs kubernetes.Interface, name, namespace string) (*webhook.TLSMaterial, error) {
	get := func(secret string) (*corev1.Secret, error) {
		s, err := cs.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, secret, err)
		}
		return s, nil
	}
	ca, err := get(webhook.CASecretName(name))
	if err != nil || ca == nil {
		return nil, err
	}
	m := &webhook.TLSMaterial{CACert: ca.Data[corev1.TLSCertKey], CAKey: ca.Data[corev1.TLSPrivateKeyKey]}
	serving, err := get(webhook.TLSSecretName(name))
	if err != nil {
		return nil, err
	}
	if serving != nil {
		m.Cert, m.Key = serving.Data[corev1.TLSCertKey], serving.Data[corev1.TLSPrivateKeyKey]
	}
	return m, nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
