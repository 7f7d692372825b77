package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
	signing "github.com/rampart-dev/rampart/internal/sign"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// NewCmdWebhook builds `rampart webhook`.
func NewCmdWebhook(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Admission control: enforce, warn or audit the controls at deploy time",
		Long: `rampart webhook serves a ValidatingAdmissionWebhook that evaluates the same
controls as rampart scan on every object created or updated (pods and every
pod-bearing kind, RBAC objects, Services, Ingresses).

Per namespace, the labels rampart.dev/enforce, rampart.dev/warn and
rampart.dev/audit choose what happens to failures (each takes a severity, a
framework such as pss-restricted, or off); the cluster default comes from the
webhook section of --config (default: enforce off, warn high, audit info).
kube-system and Rampart's own namespace are exempt.`,
	}
	cmd.AddCommand(newCmdWebhookServe(streams), newCmdWebhookInstall(streams))
	return cmd
}

type webhookServeOptions struct {
	addr       string
	certDir    string
	certFile   string
	keyFile    string
	configFile string
	namespace  string
	kubeconfig string
	context    string
	rules      []string
	failClosed bool
	timeout    time.Duration
	background time.Duration
	logFormat  string
}

func newCmdWebhookServe(streams IO) *cobra.Command {
	o := &webhookServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhook over TLS",
		Long: `Serve admission reviews at /validate over TLS, with /healthz, /readyz and
Prometheus metrics at /metrics on the same port. The certificate files are
reloaded when they change, so rotation drops no request.

With cluster access (--kubeconfig, or in-cluster), namespace labels are read
through a watch; without it, the cluster defaults apply everywhere.
--background DURATION also rescans the cluster's existing objects at that
interval: the failures are exported as metrics and served at /report
(?format=json|sarif|junit|html|table).`,
		Example: `  rampart webhook serve --cert-dir /tls --config /etc/rampart/config.yaml
  rampart webhook serve --tls-cert tls.crt --tls-key tls.key --background 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runWebhookServe(ctx, o, streams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":8443", "address to listen on")
	f.StringVar(&o.certDir, "cert-dir", "", "directory holding tls.crt and tls.key (a mounted kubernetes.io/tls Secret)")
	f.StringVar(&o.certFile, "tls-cert", "", "serving certificate file (PEM); overrides --cert-dir")
	f.StringVar(&o.keyFile, "tls-key", "", "serving key file (PEM); overrides --cert-dir")
	f.StringVar(&o.configFile, "config", "", "configuration file: webhook modes and exemptions, settings, exceptions")
	f.StringVar(&o.namespace, "namespace", firstNonEmpty(os.Getenv("POD_NAMESPACE"), webhook.DefaultNamespace), "Rampart's own namespace (exempt)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for namespace labels and --background (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.StringVar(&o.context, "context", "", "kubeconfig context")
	f.StringArrayVar(&o.rules, "rules", nil, "custom rule FILE in CEL, enforced alongside the built-in controls (repeatable)")
	f.BoolVar(&o.failClosed, "fail-closed", false, "deny requests whose evaluation does not finish within --timeout (default: allow)")
	f.DurationVar(&o.timeout, "timeout", webhook.DefaultTimeout, "evaluation budget per request; keep it under the configuration's timeoutSeconds")
	f.DurationVar(&o.background, "background", 0, "rescan existing objects at this interval (0: off)")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json|text")
	return cmd
}

func runWebhookServe(ctx context.Context, o *webhookServeOptions, streams IO) error {
	log, err := newLogger(o.logFormat, streams.Err)
	if err != nil {
		return err
	}
	certFile, keyFile, err := servingFiles("the webhook", o.certDir, o.certFile, o.keyFile)
	if err != nil {
		return err
	}
	if o.background < 0 || (o.background > 0 && o.background < time.Minute) {
		return usageError("--background must be 0 (off) or at least 1m")
	}
	cfg := &config.Config{}
	if o.configFile != "" {
		c, err := config.Load(o.configFile)
		if err != nil {
			return usageError("%v", err)
		}
		cfg = c
	}
	cat, err := loadCatalogue()
	if err != nil {
		return err
	}
	ctls, fws, err := cat.selectControls(nil, nil, nil)
	if err != nil {
		return err
	}
	rules, err := loadRules(cat, o.rules)
	if err != nil {
		return err
	}
	ctls = append(ctls, celrules.Controls(rules)...)
	eng := engine.New(ctls, engine.WithSettings(&cfg.Settings), engine.WithExceptions(cfg.Exceptions),
		engine.WithFrameworks(fws), engine.WithVersion(Version))
	policy, err := webhook.NewPolicy(cfg.Webhook, o.namespace, cat.fws)
	if err != nil {
		return usageError("%v", err)
	}
	certs, err := webhook.NewCertReloader(certFile, keyFile, log)
	if err != nil {
		return usageError("%v", err)
	}

	// Cluster access is optional unless asked for.
	var clients *kubernetes.Clientset
	rc, contextName, kerr := RESTConfig(o.kubeconfig, o.context)
	if kerr == nil {
		clients, kerr = kubernetes.NewForConfig(rc)
	}
	switch {
	case kerr != nil && (o.kubeconfig != "" || o.background > 0):
		return usageError("%v", kerr)
	case kerr != nil:
		log.Warn("no cluster access: namespace labels are not read, the cluster defaults apply everywhere", "reason", kerr.Error())
	}

	var nsLabels webhook.NamespaceLabels
	var factory informers.SharedInformerFactory
	if clients != nil {
		factory = informers.NewSharedInformerFactory(clients, 10*time.Minute)
		lister := factory.Core().V1().Namespaces().Lister()
		nsLabels = func(name string) (map[string]string, bool) {
			ns, err := lister.Get(name)
			if err != nil {
				return nil, false
			}
			return ns.Labels, true
		}
	}
	opts := webhook.Options{Timeout: o.timeout, FailClosed: o.failClosed, Log: log}
	if len(cfg.Webhook.Images.RequireSignature) > 0 {
		unsigned, ok := cat.reg.Get("image-unsigned")
		if !ok {
			return fmt.Errorf("the image-unsigned control is missing from the catalogue")
		}
		opts.Images, err = webhook.NewImagePolicy(cfg.Webhook.Images, unsigned,
			signing.Config{RemoteOptions: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}})
		if err != nil {
			return usageError("%v", err)
		}
	}
	if clients != nil {
		opts.Related = relatedObjects(clients)
	}
	srv := webhook.NewServer(eng, policy, nsLabels, opts)
	if factory != nil {
		// Not ready until the namespace labels are known: until then the
		// Service routes no request here.
		srv.SetReady(false)
		factory.Start(ctx.Done())
		go func() {
			for _, ok := range factory.WaitForCacheSync(ctx.Done()) {
				if !ok {
					return
				}
			}
			srv.SetReady(true)
			log.Info("namespace labels synced", "context", contextName)
		}()
	}
	if o.background > 0 {
		bg := &webhook.Background{
			Interval: o.background, Metrics: srv.Metrics(), Log: log,
			Scan: func(ctx context.Context) (*report.Result, error) {
				return scanCluster(ctx, eng, &ScanOptions{Cluster: true, Kubeconfig: o.kubeconfig, Context: o.context}, nil)
			},
		}
		srv.Handle("/report", bg.ReportHandler(writers))
		go bg.Run(ctx)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return usageError("--addr: %v", err)
	}
	go certs.Watch(ctx, webhook.DefaultCertReload)
	log.Info("serving admission reviews", "addr", ln.Addr().String(), "path", webhook.Path, "controls", len(ctls),
		"failClosed", o.failClosed, "timeout", o.timeout.String())
	if err := srv.Serve(ctx, ln, certs); err != nil && !errors.Is(err, context.Canceled) {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("webhook server: %v", err)}
	}
	return nil
}

// relatedLimit bounds each LIST of relatedObjects.
const relatedLimit = 500

// relatedObjects reads a namespace's pod-bearing workloads and Services for
// the cross-object controls of an admitted Service or Ingress (at most
// relatedLimit of each kind; read-only).
func relatedObjects(clients kubernetes.Interface) webhook.Related {
	return func(ctx context.Context, ns string) ([]*k8s.Object, error) {
		lo := metav1.ListOptions{Limit: relatedLimit}
		var items []runtime.Object
		add := func(apiVersion, kind string, list runtime.Object, err error) error {
			if err != nil {
				return fmt.Errorf("listing %s in %s: %w", kind, ns, err)
			}
			objs, err := meta.ExtractList(list)
			if err != nil {
				return err
			}
			for _, o := range objs {
				o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
				items = append(items, o)
			}
			return nil
		}
		deps, err := clients.AppsV1().Deployments(ns).List(ctx, lo)
		if err := add("apps/v1", "Deployment", deps, err); err != nil {
			return nil, err
		}
		sts, err := clients.AppsV1().StatefulSets(ns).List(ctx, lo)
		if err := add("apps/v1", "StatefulSet", sts, err); err != nil {
			return nil, err
		}
		dss, err := clients.AppsV1().DaemonSets(ns).List(ctx, lo)
		if err := add("apps/v1", "DaemonSet", dss, err); err != nil {
			return nil, err
		}
		pods, err := clients.CoreV1().Pods(ns).List(ctx, lo)
		if err := add("v1", "Pod", pods, err); err != nil {
			return nil, err
		}
		svcs, err := clients.CoreV1().Services(ns).List(ctx, lo)
		if err := add("v1", "Service", svcs, err); err != nil {
			return nil, err
		}
		out := make([]*k8s.Object, 0, len(items))
		for _, it := range items {
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(it)
			if err != nil {
				return nil, err
			}
			out = append(out, k8s.NewObject(content, k8s.Source{File: "cluster"}))
		}
		return out, nil
	}
}
