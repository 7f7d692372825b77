package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/auditlog"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/detect"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// NewCmdAudit builds `rampart audit`: threat detection on the Kubernetes
// audit log.
func NewCmdAudit(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Detect threats in the Kubernetes audit log (webhook receiver, log files)",
		Long: `rampart audit runs detection rules on the API server's audit events: exec
into pods, privileged pods, cluster-admin bindings, unusual secret readers,
anonymous access, token theft, weakened defenses and more (rampart audit
rules lists them). Every rule that matches an event raises an alert, with
the context of what it concerns when a kubeconfig is available: workload,
image and digest, ServiceAccount and its risky permissions, exposure.
Repeats are folded into counts for a cooldown.

  serve   receive events from the API server's audit webhook backend (TLS)
  file    follow a JSON-lines audit log through rotation, or --replay it
          once into a report

See docs/audit.md for wiring the API server (deploy/audit/audit-policy.yaml).`,
	}
	cmd.AddCommand(newCmdAuditServe(streams), newCmdAuditFile(streams), newCmdAuditRules(streams))
	return cmd
}

// auditOptions are the flags shared by the audit subcommands.
type auditOptions struct {
	rules         []string
	sinks         sinkFlags
	cooldown      time.Duration
	kubeconfig    string
	context       string
	noCluster     bool
	secretReaders []string
	learn         time.Duration
	vulns         []string
	logFormat     string
}

// addRuleFilesFlag adds --rules (rule files added to a stream's defaults).
func addRuleFilesFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "rules", nil, "rule FILE or DIR (*.yaml) added to the default rules; a rule with a default's id replaces it (repeatable)")
}

func (o *auditOptions) addFlags(cmd *cobra.Command) {
	addRuleFilesFlag(cmd, &o.rules)
	f := cmd.Flags()
	o.sinks.addFlags(cmd)
	f.DurationVar(&o.cooldown, "cooldown", detect.DefaultCooldown, "default dedupe cooldown: repeats of an alert within it are counted into one emission")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for alert context (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.StringVar(&o.context, "context", "", "kubeconfig context")
	f.BoolVar(&o.noCluster, "no-cluster", false, "do not read the cluster: alerts carry only what the event holds")
	f.StringArrayVar(&o.secretReaders, "secret-reader", nil, "usual reader of secrets, in addition to the defaults: a user name pattern (system:serviceaccount:ns:*) or group:NAME (repeatable)")
	f.DurationVar(&o.learn, "secret-baseline", 0, "learn the usual readers of each namespace's secrets during this much event time from the first secret read (0: allow-list and the namespace's own workloads only)")
	f.StringArrayVar(&o.vulns, "vulns", nil, "JSON report of rampart image --vulns: alerts on pods running its images carry their vulnerability counts (repeatable)")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json|text")
}

func (o *auditOptions) logger(w io.Writer) (*slog.Logger, error) { return newLogger(o.logFormat, w) }

// newLogger returns a slog logger writing format (json or text) to w, for
// the servers' --log-format.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	}
	return nil, usageError("--log-format: want json or text, not %q", format)
}

// servingFiles returns the TLS certificate and key files of a server's
// --tls-cert/--tls-key, or tls.crt/tls.key in --cert-dir; an error naming
// command when neither is set (servers serve TLS only).
func servingFiles(command, certDir, certFile, keyFile string) (string, string, error) {
	if certDir != "" {
		certFile = firstNonEmpty(certFile, filepath.Join(certDir, "tls.crt"))
		keyFile = firstNonEmpty(keyFile, filepath.Join(certDir, "tls.key"))
	}
	if certFile == "" || keyFile == "" {
		return "", "", usageError("%s serves TLS only: set --cert-dir, or --tls-cert and --tls-key", command)
	}
	return certFile, keyFile, nil
}

// auditRuleSet loads the default rules, adds --rules and compiles them.
func auditRuleSet(files []string) (*detect.RuleSet, error) {
	return ruleSet(auditlog.Source(), files)
}

// ruleSet loads the default rules of src, adds the rule files (a rule with a
// default's id replaces it) and compiles them for src.
func ruleSet(src detect.Source, files []string) (*detect.RuleSet, error) {
	defaults, err := detect.Defaults(src.Name)
	if err != nil {
		return nil, err
	}
	rules := defaults
	if len(files) > 0 {
		user, err := detect.Load(files...)
		if err != nil {
			return nil, usageError("%v", err)
		}
		if rules, err = detect.Merge(defaults, user); err != nil {
			return nil, usageError("%v", err)
		}
	}
	rs, err := detect.Compile(rules, src)
	if err != nil {
		return nil, usageError("%v", oneLineErrors(err))
	}
	return rs, nil
}

// oneLineErrors joins the lines of a joined error with "; ".
func oneLineErrors(err error) string {
	return strings.Join(strings.Split(err.Error(), "\n"), "; ")
}

// auditPipeline is what serve and file share: the rules, the detector and
// where its alerts go.
type auditPipeline struct {
	rules    *detect.RuleSet
	metrics  *detect.Metrics
	disp     *detect.Dispatcher
	detector *auditlog.Detector
	inv      *auditlog.Inventory
}

func (p *auditPipeline) close() error {
	if p.inv != nil {
		p.inv.Shutdown()
	}
	return p.disp.Close()
}

// newAuditPipeline builds the pipeline; collect, when set, also receives
// every alert (replay reports). cluster says whether to try the cluster for
// context (an explicit --kubeconfig or --context that fails is an error;
// otherwise no cluster is a warning).
func newAuditPipeline(ctx context.Context, o *auditOptions, streams IO, log *slog.Logger, defaultSink bool, collect func(detect.Alert)) (*auditPipeline, error) {
	rs, err := auditRuleSet(o.rules)
	if err != nil {
		return nil, err
	}
	metrics := detect.NewMetrics()
	if err := metrics.AddRuleSet(rs); err != nil {
		return nil, err
	}
	sinks, err := o.sinks.open(defaultSink, streams, log, metrics)
	if err != nil {
		return nil, err
	}
	opts := []detect.DispatcherOption{detect.WithMetrics(metrics), detect.WithLogger(log)}
	if collect != nil {
		opts = append(opts, detect.WithCollector(collect))
	}
	disp := detect.NewDispatcher(detect.NewDeduper(o.cooldown, detect.Cooldowns(rs.Rules()), 0), sinks, opts...)
	p := &auditPipeline{rules: rs, metrics: metrics, disp: disp}
	enricher := &auditlog.Enricher{}
	if len(o.vulns) > 0 {
		v, err := auditlog.LoadVulnReports(o.vulns...)
		if err != nil {
			_ = disp.Close()
			return nil, usageError("%v", err)
		}
		enricher.Vulns = v
	}
	baseline := &auditlog.Baseline{Allow: append(append([]string{}, auditlog.DefaultSecretReaders...), o.secretReaders...), Learn: o.learn}
	if !o.noCluster {
		rc, name, kerr := RESTConfig(o.kubeconfig, o.context)
		var cs *kubernetes.Clientset
		if kerr == nil {
			cs, kerr = kubernetes.NewForConfig(rc)
		}
		switch {
		case kerr != nil && (o.kubeconfig != "" || o.context != ""):
			_ = disp.Close()
			return nil, usageError("%v", kerr)
		case kerr != nil:
			log.Warn("no cluster access: alerts carry only what the events hold (use --no-cluster to silence)", "reason", kerr.Error())
		default:
			p.inv = auditlog.NewInventory(cs, log)
			if err := p.inv.Start(ctx, 2*time.Minute); err != nil {
				log.Warn("inventory not fully synced; context may be missing until it is", "error", err)
			}
			enricher.Lookup, enricher.Cluster = p.inv, name
			baseline.PodServiceAccount = p.inv.PodServiceAccount
			log.Info("inventory synced", "context", name)
		}
	}
	p.detector = auditlog.NewDetector(rs, enricher, baseline, disp, metrics, log)
	return p, nil
}

// sinkFlags are the alert sink flags shared by rampart audit and rampart
// sensor.
type sinkFlags struct {
	specs  []string
	slack  bool
	caFile string
}

func (sf *sinkFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&sf.specs, "sink", nil, "where alerts go: stdout, file:PATH (JSON lines, appended, mode 0600), webhook:URL (https; JSON POST with retries) or slack:URL (the same with a Slack-compatible body) (repeatable; default stdout)")
	f.BoolVar(&sf.slack, "slack", false, "post Slack-compatible bodies ({\"text\": ...}) to webhook sinks")
	f.StringVar(&sf.caFile, "sink-ca", "", "CA bundle (PEM) trusted for webhook sinks, in addition to the system roots")
}

// open opens the --sink specifications (stdout when none is given and
// defaultStdout); a webhook sink's drops count in metrics.
func (sf *sinkFlags) open(defaultStdout bool, streams IO, log *slog.Logger, metrics *detect.Metrics) ([]detect.Sink, error) {
	specs := sf.specs
	if len(specs) == 0 && defaultStdout {
		specs = []string{"stdout"}
	}
	var out []detect.Sink
	fail := func(err error) ([]detect.Sink, error) {
		for _, s := range out {
			_ = s.Close()
		}
		return nil, err
	}
	for _, spec := range specs {
		kind, arg, _ := strings.Cut(spec, ":")
		switch kind {
		case "stdout":
			out = append(out, detect.NewJSONLines("stdout", streams.Out))
		case "file":
			if arg == "" {
				return fail(usageError("--sink file:PATH needs a path"))
			}
			s, err := detect.OpenFile(arg)
			if err != nil {
				return fail(usageError("--sink %s: %v", spec, err))
			}
			out = append(out, s)
		case "webhook", "slack":
			client, err := sinkClient(sf.caFile)
			if err != nil {
				return fail(err)
			}
			s, err := detect.NewWebhook(arg, detect.WebhookOptions{Slack: sf.slack || kind == "slack", Client: client, Log: log,
				OnDrop: func() { metrics.SinkErrors.WithLabelValues("webhook").Inc() }})
			if err != nil {
				return fail(usageError("--sink: %v", err))
			}
			out = append(out, s)
		default:
			return fail(usageError("--sink %q: want stdout, file:PATH, webhook:URL or slack:URL", spec))
		}
	}
	return out, nil
}

func sinkClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageError("--sink-ca: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError("--sink-ca %s: no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}, nil
}

type auditServeOptions struct {
	auditOptions
	addr     string
	certDir  string
	certFile string
	keyFile  string
	queue    int
	workers  int
}

func newCmdAuditServe(streams IO) *cobra.Command {
	o := &auditServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive audit events from the API server's webhook backend (TLS)",
		Long: `Serve the API server's audit webhook backend over TLS: POST /audit (any path)
takes an audit.k8s.io/v1 EventList; GET /metrics and /healthz on the same
port. A request is answered as soon as its events are queued; when the
queue is full, events are dropped, counted
(rampart_detect_events_dropped_total) and logged, never silently.
SIGTERM stops accepting, drains the queue and flushes pending alert counts.`,
		Example: `  rampart audit serve --cert-dir /tls --sink stdout --sink webhook:https://hooks.example/T0/B0 --slack
  rampart audit serve --tls-cert tls.crt --tls-key tls.key --no-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAuditServe(ctx, o, streams)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":8443", "address to listen on")
	f.StringVar(&o.certDir, "cert-dir", "", "directory holding tls.crt and tls.key (a mounted kubernetes.io/tls Secret)")
	f.StringVar(&o.certFile, "tls-cert", "", "serving certificate file (PEM); overrides --cert-dir")
	f.StringVar(&o.keyFile, "tls-key", "", "serving key file (PEM); overrides --cert-dir")
	f.IntVar(&o.queue, "queue", 100000, "events queued for evaluation at most; beyond, events are dropped and counted")
	f.IntVar(&o.workers, "workers", 2, "goroutines evaluating events")
	return cmd
}

func runAuditServe(ctx context.Context, o *auditServeOptions, streams IO) error {
	log, err := o.logger(streams.Err)
	if err != nil {
		return err
	}
	certFile, keyFile, err := servingFiles("rampart audit serve", o.certDir, o.certFile, o.keyFile)
	if err != nil {
		return err
	}
	if o.queue <= 0 || o.workers <= 0 {
		return usageError("--queue and --workers must be positive")
	}
	certs, err := webhook.NewCertReloader(certFile, keyFile, log)
	if err != nil {
		return usageError("%v", err)
	}
	p, err := newAuditPipeline(ctx, &o.auditOptions, streams, log, true, nil)
	if err != nil {
		return err
	}
	srv := auditlog.NewServer(func(ev *auditlog.Event) { _ = p.detector.Process(ev, nil) },
		auditlog.ServerOptions{Queue: o.queue, Workers: o.workers, Log: log, Metrics: p.metrics})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = p.close()
		return usageError("--addr: %v", err)
	}
	go certs.Watch(ctx, webhook.DefaultCertReload)
	go p.disp.Run(ctx, time.Second)
	log.Info("serving the audit webhook", "addr", ln.Addr().String(), "rules", len(p.rules.Rules()), "queue", o.queue, "workers", o.workers)
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Serve(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate})
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	c := srv.Counts()
	log.Info("audit webhook stopped", "received", c.Received, "processed", c.Processed, "dropped", c.Dropped, "rejected", c.Rejected)
	closeErr := p.close()
	if err := errors.Join(serveErr, shutErr, closeErr); err != nil {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("audit webhook: %v", err)}
	}
	return nil
}

type auditFileOptions struct {
	auditOptions
	replay    bool
	fromStart bool
	format    string
	output    string
	failOn    string
	noColor   bool
	poll      time.Duration
}

func newCmdAuditFile(streams IO) *cobra.Command {
	o := &auditFileOptions{}
	cmd := &cobra.Command{
		Use:   "file PATH",
		Short: "Follow a JSON-lines audit log (through rotation), or --replay it into a report",
		Long: `Follow the API server's audit log file (--audit-log-path) like tail -F: new
events are evaluated as they are written, through rotation by rename and
create (the API server's own --audit-log-maxsize, logrotate) and by
copytruncate. Alerts go to the sinks.

With --replay the file (or - for standard input) is read once from its
start and the alerts are written as a report in the scan formats
(-o table|json|sarif|junit|html); the exit code is 1 when an alert is at or
above --fail-on, 2 when lines were not audit events.`,
		Example: `  rampart audit file /var/log/kubernetes/audit.log --sink file:/var/log/rampart/alerts.jsonl
  rampart audit file audit.log --replay -o sarif --output alerts.sarif --no-cluster`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAuditFile(ctx, o, args[0], streams)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.replay, "replay", false, "read the file once and write a report")
	f.BoolVar(&o.fromStart, "from-start", false, "when following, read the file from its start (default: only new events)")
	f.StringVarP(&o.format, "format", "o", "table", "report format with --replay: "+strings.Join(formatNames(), "|"))
	f.StringVar(&o.output, "output", "", "write the --replay report to FILE instead of stdout")
	f.StringVar(&o.failOn, "fail-on", "low", "with --replay, exit 1 on alerts at or above this severity")
	f.BoolVar(&o.noColor, "no-color", false, "never colour table output")
	f.DurationVar(&o.poll, "poll", 250*time.Millisecond, "how often a followed file without new data is checked for data and rotation")
	return cmd
}

func runAuditFile(ctx context.Context, o *auditFileOptions, path string, streams IO) error {
	log, err := o.logger(streams.Err)
	if err != nil {
		return err
	}
	if !o.replay {
		return followAuditFile(ctx, o, path, streams, log)
	}
	w, ok := writers[o.format]
	if !ok {
		return usageError("--format: want one of %s, not %q", strings.Join(formatNames(), ", "), o.format)
	}
	failOn, err := control.ParseSeverity(o.failOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	in := streams.In
	name := "-"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usageError("%v", err)
		}
		defer f.Close()
		in, name = f, path
	}
	var alerts []detect.Alert
	p, err := newAuditPipeline(ctx, &o.auditOptions, streams, log, false, func(a detect.Alert) { alerts = append(alerts, a) })
	if err != nil {
		return err
	}
	st, rerr := auditlog.Replay(ctx, in, name, func(ev *auditlog.Event, line int) {
		_ = p.detector.Process(ev, &k8s.Source{File: name, Line: line})
	})
	if err := p.close(); err != nil {
		log.Error("closing sinks", "error", err)
	}
	if rerr != nil {
		return usageError("%v", rerr)
	}
	errs := st.InputErrors
	if more := st.Errors - len(errs); more > 0 {
		errs = append(errs, report.InputError{File: name, Message: fmt.Sprintf("%d more lines were not audit events", more)})
	}
	res := detect.Report(Version, p.rules.Rules(), alerts, errs)
	return writeReport(streams, res, w, reportOptions{Output: o.output, NoColor: o.noColor, FailOn: failOn})
}

func followAuditFile(ctx context.Context, o *auditFileOptions, path string, streams IO, log *slog.Logger) error {
	if path == "-" {
		return usageError("following needs a file path (use --replay to read standard input)")
	}
	if _, err := os.Stat(path); err != nil {
		return usageError("%v", err)
	}
	p, err := newAuditPipeline(ctx, &o.auditOptions, streams, log, true, nil)
	if err != nil {
		return err
	}
	go p.disp.Run(ctx, time.Second)
	log.Info("following the audit log", "path", path, "rules", len(p.rules.Rules()))
	ferr := auditlog.Follow(ctx, path, auditlog.FollowOptions{
		Poll: o.poll, FromStart: o.fromStart,
		OnError: func(e report.InputError) {
			p.metrics.Dropped.WithLabelValues(auditlog.SourceName, "decode-error").Inc()
			log.Warn("not an audit event", "file", e.File, "line", e.Line, "error", e.Message)
		},
		OnRotate: func(kind string) { log.Info("audit log rotated", "path", path, "rotation", kind) },
	}, func(ev *auditlog.Event, line int) {
		_ = p.detector.Process(ev, &k8s.Source{File: path, Line: line})
	})
	if err := p.close(); err != nil {
		log.Error("closing sinks", "error", err)
	}
	if ferr != nil {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("following %s: %v", path, ferr)}
	}
	return nil
}

func newCmdAuditRules(streams IO) *cobra.Command {
	return newCmdRules(streams, auditlog.Source(), "audit")
}

// newCmdRules builds `rampart <command> rules`: the compiled rules of src,
// the defaults and --rules.
func newCmdRules(streams IO, src detect.Source, command string) *cobra.Command {
	var files []string
	var format string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the compiled " + command + " rules (defaults and --rules)",
		Example: `  rampart ` + command + ` rules
  rampart ` + command + ` rules --rules ./my-rules/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			rs, err := ruleSet(src, files)
			if err != nil {
				return err
			}
			rules := rs.Rules()
			switch format {
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rules)
			case "table":
				tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tMITRE\tTITLE\tFILE")
				for _, r := range rules {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s:%d\n", r.ID, r.Severity, strings.Join(r.MITRE, ","), r.Title, r.File, r.Line)
				}
				return tw.Flush()
			}
			return usageError("--format: want table or json, not %q", format)
		},
	}
	addRuleFilesFlag(cmd, &files)
	cmd.Flags().StringVarP(&format, "format", "o", "table", "output format: table|json")
	return cmd
}
