package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/probe"
)

// ProbeOptions are the flags of `rampart probe`.
type ProbeOptions struct {
	Format         string
	Output         string
	FailOn         string
	NoColor        bool
	Ports          []string
	Services       []string
	Rate           float64
	Concurrency    int
	ConnectTimeout time.Duration
	Timeout        time.Duration
	Metadata       bool
	IMeanIt        bool
	// metadataURL replaces the metadata service address in tests.
	metadataURL string
}

// NewCmdProbe builds `rampart probe`.
func NewCmdProbe(streams IO) *cobra.Command {
	o := &ProbeOptions{}
	cmd := &cobra.Command{
		Use:   "probe TARGET...",
		Short: "Probe API servers, kubelets, etcd, Docker and dashboards for what answers without credentials",
		Long: `Probe network endpoints the way an attacker on the network would, without
credentials, and report what answers: the API server (anonymous access and
what system:anonymous may do), the insecure API port, kubelets (10250,
10255), etcd, the Docker Engine API, kubectl proxy, the Kubernetes
Dashboard, the Argo Workflows server and, with --metadata, the cloud
metadata service. See docs/probe.md.

TARGETs are host names, IPs, host:port, CIDRs (at most a /16 without
--i-mean-it) and http(s) URLs. A target without a port is probed on every
service's usual ports (or --ports); a target with a port only on that port.

Probes are read-only (GETs, plus a SelfSubjectRulesReview and an etcd key
count that change nothing), rate-limited, never follow redirects and never
contact anything but the endpoints named. Closed ports and open ports that
answer as none of the services give no result; they are counted on stderr.

Exit codes: 0 nothing failing at or above --fail-on, 1 failing findings at
or above --fail-on, 2 usage error or an open endpoint that could not be
probed (timeout, reset, garbage).`,
		Example: `  rampart probe 10.0.0.10
  rampart probe https://10.0.0.10:6443 10.0.1.0/24
  rampart probe --ports 10250,10255 --rate 100 nodes.example.internal
  rampart probe --metadata -o json kubernetes.default.svc   # from inside a pod`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProbe(cmd.Context(), o, args, streams)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "o", "table", "output format: "+strings.Join(formatNames(), "|"))
	f.StringVar(&o.Output, "output", "", "write the report to FILE instead of stdout")
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 on failing findings at or above this severity")
	f.BoolVar(&o.NoColor, "no-color", false, "never colour table output")
	f.StringSliceVar(&o.Ports, "ports", nil, "probe these ports instead of each service's usual ones (comma-separated)")
	f.StringSliceVar(&o.Services, "services", nil, "only these probes: "+strings.Join(probe.ServiceNames(), ","))
	f.Float64Var(&o.Rate, "rate", probe.DefaultRate, "most connections and requests per second, over all targets")
	f.IntVar(&o.Concurrency, "concurrency", probe.DefaultConcurrency, "endpoints probed at once")
	f.DurationVar(&o.ConnectTimeout, "connect-timeout", probe.DefaultConnectTimeout, "TCP connect and TLS handshake timeout")
	f.DurationVar(&o.Timeout, "timeout", probe.DefaultTimeout, "total time for one request, first byte sent to last byte read")
	f.BoolVar(&o.Metadata, "metadata", false, "also probe the cloud metadata service 169.254.169.254 (meant for runs inside a pod)")
	f.BoolVar(&o.IMeanIt, "i-mean-it", false, "allow CIDR targets larger than a /16")
	return cmd
}

func runProbe(ctx context.Context, o *ProbeOptions, args []string, streams IO) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(args) == 0 && !o.Metadata {
		return usageError("probe needs at least one TARGET (host, IP, CIDR or URL), or --metadata")
	}
	w, ok := writers[o.Format]
	if !ok {
		return usageError("unknown --format %q (want %s)", o.Format, strings.Join(formatNames(), "|"))
	}
	failOn, err := control.ParseSeverity(o.FailOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	if o.Rate <= 0 || o.Concurrency <= 0 || o.Timeout <= 0 || o.ConnectTimeout <= 0 {
		return usageError("--rate, --concurrency, --timeout and --connect-timeout must be positive")
	}
	var ports []int
	for _, p := range splitList(o.Ports) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return usageError("--ports: bad port %q", p)
		}
		ports = append(ports, n)
	}
	var targets []probe.Target
	if len(args) > 0 {
		targets, err = probe.ParseTargets(args, o.IMeanIt)
		if err != nil {
			return usageError("%v", err)
		}
	}
	pr, err := probe.New(probe.Options{
		Ports: ports, Services: splitList(o.Services), Rate: o.Rate, Concurrency: o.Concurrency,
		ConnectTimeout: o.ConnectTimeout, Timeout: o.Timeout, Metadata: o.Metadata, MetadataURL: o.metadataURL,
	})
	if err != nil {
		return usageError("%v", err)
	}
	checks, err := probe.Checks()
	if err != nil {
		return err
	}
	fw, err := probe.Framework()
	if err != nil {
		return err
	}
	out := pr.Run(ctx, targets)
	st := out.Stats
	fmt.Fprintf(streams.Err, "rampart probe: %d endpoints on %d hosts: %d open, %d identified, %d closed or filtered\n",
		st.Endpoints, st.Hosts, st.Open, st.Identified, st.Endpoints-st.Open)
	res := audit.Build(Version, fw, checks, out.Results, out.Errors)
	return writeReport(streams, res, w, reportOptions{Output: o.Output, NoColor: o.NoColor, FailOn: failOn})
}
