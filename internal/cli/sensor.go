package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/detect"
	"github.com/rampart-dev/rampart/internal/oneline"
	"github.com/rampart-dev/rampart/internal/sensor"
	"github.com/rampart-dev/rampart/internal/webhook"
)

// SensorOptions are the flags of `rampart sensor run`.
type SensorOptions struct {
	Rules           []string
	Sinks           sinkFlags
	KubeletURL      string
	KubeletToken    string
	KubeletCA       string
	KubeletInsecure bool
	NodeName        string
	ProcRoot        string
	APIServers      []string
	MetricsAddr     string
	TLSCertFile     string
	TLSKeyFile      string
	Cooldown        time.Duration
	StatsInterval   time.Duration
	Duration        time.Duration
	LogFormat       string
}

// NewCmdSensor builds `rampart sensor`.
func NewCmdSensor(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sensor",
		Short: "eBPF runtime sensor: detect threats in the processes of this node",
		Long: `The eBPF runtime sensor watches process execs, opens of sensitive files,
writes below /etc and the binary directories, outbound connects, ptrace
attach, setuid to root and kernel module loads on this node, attributes each
event to its container and pod, and raises alerts with the sensor rules
(source: sensor). See docs/sensor.md.`,
	}
	cmd.AddCommand(newCmdSensorRun(streams), newCmdSensorRules(streams))
	return cmd
}

func newCmdSensorRun(streams IO) *cobra.Command {
	o := &SensorOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Load the eBPF programs and raise alerts until stopped",
		Long: `Load the sensor's eBPF programs (needs root, or CAP_BPF, CAP_PERFMON and
CAP_SYS_RESOURCE, and kernel BTF), read their events and raise alerts.

Alerts go to every --sink: stdout (JSON lines, the default), file:PATH,
webhook:URL (JSON POST with retries) or slack:URL. With --metrics-addr,
Prometheus metrics are served over TLS at /metrics (--tls-cert-file,
--tls-key-file). Statistics, lost events included, are logged every
--stats-interval and when the sensor stops.`,
		Example: `  rampart sensor run
  rampart sensor run --kubelet-url https://127.0.0.1:10250 --kubelet-token-file /var/run/secrets/kubernetes.io/serviceaccount/token --kubelet-insecure-skip-verify
  rampart sensor run --rules my-rules/ --sink file:/var/log/rampart/alerts.jsonl --metrics-addr :9443 --tls-cert-file tls.crt --tls-key-file tls.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if o.Duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.Duration)
				defer cancel()
			}
			return runSensor(ctx, o, streams)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Rules, "rules", nil, "rule files or directories added to (or overriding by ID) the default sensor rules")
	o.Sinks.addFlags(cmd)
	f.StringVar(&o.KubeletURL, "kubelet-url", "", "kubelet base URL for pod names and images (/pods), e.g. https://$NODE_IP:10250; empty: container IDs and pod UIDs only")
	f.StringVar(&o.KubeletToken, "kubelet-token-file", "", "bearer token file for the kubelet (the ServiceAccount token)")
	f.StringVar(&o.KubeletCA, "kubelet-ca", "", "CA bundle that verifies the kubelet's serving certificate")
	f.BoolVar(&o.KubeletInsecure, "kubelet-insecure-skip-verify", false, "do not verify the kubelet's serving certificate (self-signed kubelet certificates)")
	f.StringVar(&o.NodeName, "node-name", "", "this node's name in alerts (default $NODE_NAME, else the host name)")
	f.StringVar(&o.ProcRoot, "proc-root", "/proc", "where the host's /proc is mounted")
	f.StringSliceVar(&o.APIServers, "api-server", nil, "API server addresses the rules look for in commands (default $KUBERNETES_SERVICE_HOST and host:port)")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics over TLS on this address (e.g. :9443)")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate of the metrics endpoint (reloaded when it changes)")
	f.StringVar(&o.TLSKeyFile, "tls-key-file", "", "serving key of the metrics endpoint")
	f.DurationVar(&o.Cooldown, "cooldown", detect.DefaultCooldown, "dedupe cooldown of rules that set none")
	f.DurationVar(&o.StatsInterval, "stats-interval", time.Minute, "how often to log event and lost-event counts")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: run until interrupted)")
	f.StringVar(&o.LogFormat, "log-format", "json", "log format on stderr: json or text")
	return cmd
}

func runSensor(ctx context.Context, o *SensorOptions, streams IO) error {
	log, err := newLogger(o.LogFormat, streams.Err)
	if err != nil {
		return err
	}
	rs, err := ruleSet(sensor.Source, o.Rules)
	if err != nil {
		return err
	}
	if (o.MetricsAddr != "") != (o.TLSCertFile != "" && o.TLSKeyFile != "") {
		return usageError("--metrics-addr needs --tls-cert-file and --tls-key-file (metrics are served over TLS only)")
	}
	metrics := detect.NewMetrics()
	sinks, err := o.Sinks.open(true, streams, log, metrics)
	if err != nil {
		return err
	}
	disp := detect.NewDispatcher(detect.NewDeduper(o.Cooldown, detect.Cooldowns(rs.Rules()), detect.DefaultMaxKeys), sinks,
		detect.WithMetrics(metrics), detect.WithLogger(log))
	defer func() {
		if err := disp.Close(); err != nil {
			log.Error("closing sinks", "error", err)
		}
	}()

	node := o.NodeName
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	attr := &sensor.Attributor{ProcRoot: o.ProcRoot, Node: node}
	if o.KubeletURL != "" {
		kp, err := sensor.NewKubeletPods(o.KubeletURL, sensor.KubeletOptions{TokenFile: o.KubeletToken, CAFile: o.KubeletCA, InsecureSkipVerify: o.KubeletInsecure})
		if err != nil {
			return usageError("%s", oneline.Err(err))
		}
		attr.Pods = kp
	}
	apiServers := o.APIServers
	if len(apiServers) == 0 {
		if h := os.Getenv("KUBERNETES_SERVICE_HOST"); h != "" {
			apiServers = append(apiServers, h)
			if p := os.Getenv("KUBERNETES_SERVICE_PORT"); p != "" {
				apiServers = append(apiServers, net.JoinHostPort(h, p))
			}
		}
	}

	if o.MetricsAddr != "" {
		certs, err := webhook.NewCertReloader(o.TLSCertFile, o.TLSKeyFile, log)
		if err != nil {
			return usageError("%s", oneline.Err(err))
		}
		go certs.Watch(ctx, 30*time.Second)
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return usageError("--metrics-addr: %s", oneline.Err(err))
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}}
		go func() {
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "error", err)
			}
		}()
		defer func() { _ = srv.Close() }()
	}

	s, err := sensor.OpenWith(o.ProcRoot)
	if err != nil {
		return &ExitError{Code: ExitUsage, Message: oneline.Err(err)}
	}
	for _, u := range s.Unsupported() {
		log.Warn("probe not available on this kernel", "probe", u)
	}
	log.Info("sensor running", "node", node, "rules", len(rs.Rules()), "kubelet", o.KubeletURL != "")
	go disp.Run(ctx, time.Second)
	r := &sensor.Runner{Rules: rs, Dispatcher: disp, Attributor: attr, Procs: &sensor.Procs{Root: o.ProcRoot},
		APIServers: apiServers, Metrics: metrics, Log: log, StatsInterval: o.StatsInterval}
	stopRead := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stopRead()
	err = r.Run(ctx, s, s)
	_ = s.Close()
	if err != nil {
		return &ExitError{Code: ExitUsage, Message: oneline.Err(err)}
	}
	return nil
}

func newCmdSensorRules(streams IO) *cobra.Command {
	return newCmdRules(streams, sensor.Source, "sensor")
}
