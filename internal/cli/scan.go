package cli

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/library/supplychain"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/load/cluster"
	"github.com/rampart-dev/rampart/internal/load/helm"
	"github.com/rampart-dev/rampart/internal/load/kustomize"
	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/vuln"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

// ScanOptions are the flags of `rampart scan`.
type ScanOptions struct {
	Format          string
	Output          string
	Frameworks      []string
	Controls        []string
	ExcludeControls []string
	Severity        string
	FailOn          string
	ConfigFile      string
	Values          []string
	Set             []string
	ReleaseName     string
	Namespace       string
	MaxFileSize     int64
	NoColor         bool
	// Cluster scans the cluster of Kubeconfig/Context instead of files.
	Cluster           bool
	Kubeconfig        string
	Context           string
	ExcludeNamespaces []string
	// Rules are custom rule files in CEL, run alongside the built-in controls.
	Rules []string
	// Images analyses the images the cluster runs (scan_images.go).
	Images imageScanOptions
}

// NewCmdScan builds `rampart scan`.
func NewCmdScan(streams IO) *cobra.Command {
	o := &ScanOptions{}
	cmd := &cobra.Command{
		Use:   "scan PATH... | scan --cluster",
		Short: "Scan manifests, Helm charts, Kustomize overlays or a live cluster",
		Long: `Scan files, directories (recursively) and stdin ("-") for Kubernetes
misconfigurations. Directories holding a Chart.yaml are rendered with Helm;
directories holding a kustomization file are built with Kustomize.

With --cluster, scan the objects of a live cluster instead (read-only: get
and list; Secrets are read as metadata only, never their data). The cluster
comes from --kubeconfig/--context, the KUBECONFIG variable, ~/.kube/config or,
inside a Pod, its service account. Objects managed by a controller are
reported once, on their top-level workload. A kind that cannot be listed is
reported as an error and the rest is still scanned.

With --cluster --images, also analyse the images the cluster runs: each
distinct image digest once (the digest running pods report, else the tag
resolved in the registry), several at a time, while the objects are listed.
Their packages are matched against the offline vulnerability database
(rampart db import) and image-critical-vulnerabilities and
image-high-vulnerabilities fail on every workload that runs a vulnerable
image; a ServiceAccount finding of workload-with-privileged-service-account
becomes critical when the workload runs a critical-vulnerability image.
Registry credentials come from the docker config and its credential
helpers, not from the cluster's image pull secrets.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above
--fail-on, 2 usage error or an input that could not be read or parsed
(everything readable is still scanned and reported).`,
		Example: `  rampart scan examples/
  rampart scan -o sarif --output rampart.sarif deploy/
  helm template my-chart | rampart scan -
  rampart scan --framework pss-restricted --fail-on high k8s/
  rampart scan --cluster --context prod --exclude-namespaces kube-system
  rampart scan --cluster --images --db ~/.cache/rampart/vuln.db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Cluster {
				if len(args) > 0 {
					return usageError("scan --cluster takes no PATH")
				}
				return runScan(cmd.Context(), o, nil, streams)
			}
			if o.Kubeconfig != "" || o.Context != "" || len(o.ExcludeNamespaces) > 0 || o.Images.Enabled {
				return usageError("--kubeconfig, --context, --exclude-namespaces and --images need --cluster")
			}
			if len(args) == 0 {
				return usageError("scan needs at least one PATH (a file, a directory or - for stdin)")
			}
			return runScan(cmd.Context(), o, args, streams)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "o", "table", "output format: "+strings.Join(formatNames(), "|"))
	f.StringVar(&o.Output, "output", "", "write the report to FILE instead of stdout")
	f.StringSliceVar(&o.Frameworks, "framework", nil, "only run controls of these frameworks (nsa, cis, pss-baseline, pss-restricted, mitre)")
	f.StringSliceVar(&o.Controls, "controls", nil, "only run these control IDs")
	f.StringSliceVar(&o.ExcludeControls, "exclude-controls", nil, "do not run these control IDs")
	f.StringVar(&o.Severity, "severity", "", "minimum severity shown: info|low|medium|high|critical (default info)")
	f.StringVar(&o.FailOn, "fail-on", "", "exit 1 on failing findings at or above this severity (default low)")
	f.StringVar(&o.ConfigFile, "config", "", "configuration file with settings and exceptions")
	f.StringArrayVarP(&o.Values, "values", "f", nil, "Helm values file (repeatable)")
	f.StringArrayVar(&o.Set, "set", nil, "Helm value override key=value (repeatable)")
	f.StringVar(&o.ReleaseName, "release-name", "rampart-scan", "Helm release name")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "files: Helm release namespace, also given to chart objects without one (templates see \"default\" when unset); --cluster: only scan these namespaces (comma-separated; default all)")
	f.Int64Var(&o.MaxFileSize, "max-file-size", load.DefaultLimits.MaxFileSize, "largest input file accepted, in bytes")
	f.BoolVar(&o.NoColor, "no-color", false, "never colour table output")
	f.BoolVar(&o.Cluster, "cluster", false, "scan the live cluster of the current kubeconfig context (read-only) instead of files")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "--cluster: kubeconfig file (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.StringVar(&o.Context, "context", "", "--cluster: kubeconfig context (default the current context)")
	f.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "--cluster: do not scan these namespaces (comma-separated)")
	f.BoolVar(&o.Images.Enabled, "images", false, "--cluster: analyse the images the cluster runs, each digest once, against the offline vulnerability database")
	f.StringVar(&o.Images.DB, "db", "", "--images: vulnerability database (default "+vulndb.DefaultPath()+")")
	f.BoolVar(&o.Images.IgnoreUnfixed, "ignore-unfixed", false, "--images: leave out vulnerabilities without a fixed version")
	f.StringVar(&o.Images.IgnoreFile, "ignore-file", "", "--images: VEX/ignore file (id or alias, package, reason, expires)")
	f.StringVar(&o.Images.Platform, "platform", "", "--images: platform picked from multi-arch images, os/arch[/variant] (default linux/amd64)")
	f.IntVar(&o.Images.Parallelism, "image-parallelism", DefaultImageParallelism, "--images: images analysed at once")
	f.DurationVar(&o.Images.MaxAge, "max-age", 7*24*time.Hour, "--images: warn when the vulnerability database is older than this")
	f.StringArrayVar(&o.Rules, "rules", nil, "custom rule FILE in CEL, run alongside the built-in controls (repeatable; see docs/cel.md)")
	return cmd
}

func runScan(ctx context.Context, o *ScanOptions, paths []string, streams IO) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := &config.Config{}
	if o.ConfigFile != "" {
		c, err := config.Load(o.ConfigFile)
		if err != nil {
			return usageError("%v", err)
		}
		cfg = c
	}
	sevName := firstNonEmpty(o.Severity, cfg.Severity, "info")
	minSev, err := control.ParseSeverity(sevName)
	if err != nil {
		return usageError("--severity: %v", err)
	}
	failName := firstNonEmpty(o.FailOn, cfg.FailOn, "low")
	failOn, err := control.ParseSeverity(failName)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	w, ok := writers[o.Format]
	if !ok {
		return usageError("unknown --format %q (want %s)", o.Format, strings.Join(formatNames(), "|"))
	}
	cat, err := loadCatalogue()
	if err != nil {
		return err
	}
	fwIDs := splitList(o.Frameworks)
	if len(fwIDs) == 0 {
		fwIDs = cfg.Frameworks
	}
	include := splitList(o.Controls)
	if len(include) == 0 {
		include = cfg.Controls
	}
	exclude := append(splitList(o.ExcludeControls), cfg.ExcludeControls...)
	var swap []*control.Control
	if o.Images.Enabled {
		// The image vulnerability controls, evaluated by rampart image in
		// other scans, run as cross-object controls over the workloads.
		if swap, err = supplychain.ClusterControls(); err != nil {
			return err
		}
	}
	ctls, fws, err := cat.selectControls(fwIDs, include, exclude, swap...)
	if err != nil {
		return err
	}
	rules, err := loadRules(cat, o.Rules)
	if err != nil {
		return err
	}
	ctls = append(ctls, celrules.Controls(rules)...)
	if o.MaxFileSize <= 0 {
		return usageError("--max-file-size must be positive")
	}

	var images *clusterImages
	if o.Images.Enabled {
		if o.Images.Parallelism <= 0 {
			return usageError("--image-parallelism must be positive")
		}
		m := vuln.Options{IgnoreUnfixed: o.Images.IgnoreUnfixed}
		if o.Images.IgnoreFile != "" {
			if m.Ignores, err = vuln.LoadIgnores(o.Images.IgnoreFile); err != nil {
				return usageError("--ignore-file: %v", err)
			}
		}
		db, err := openVulnDB(ctx, o.Images.DB, o.Images.MaxAge, streams.Err)
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		images = newClusterImages(ctx, db, o.Images, m)
	}
	opts := []engine.Option{
		engine.WithSettings(&cfg.Settings),
		engine.WithExceptions(cfg.Exceptions),
		engine.WithFrameworks(fws),
		engine.WithVersion(Version),
	}
	if images != nil {
		opts = append(opts, engine.WithImages(images))
	}
	eng := engine.New(ctls, opts...)
	var res *report.Result
	if o.Cluster {
		res, err = scanCluster(ctx, eng, o, images)
		if err != nil {
			return err
		}
	} else {
		lim := load.DefaultLimits
		lim.MaxFileSize = o.MaxFileSize
		res = eng.Scan(ctx, paths, load.Options{
			Limits:    lim,
			Renderers: renderers(o),
			Stdin:     streams.In,
		})
	}
	engine.FilterSeverity(res, minSev)

	return writeReport(streams, res, w, reportOptions{Output: o.Output, NoColor: o.NoColor, FailOn: failOn})
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// renderers returns the Helm and Kustomize renderers configured by o. Helm
// comes first: a directory holding both a Chart.yaml and a kustomization is
// rendered as a chart.
func renderers(o *ScanOptions) []load.Renderer {
	return []load.Renderer{
		helm.New(helm.Options{
			ValueFiles:  o.Values,
			Set:         o.Set,
			ReleaseName: o.ReleaseName,
			Namespace:   o.Namespace,
		}),
		kustomize.New(),
	}
}

// scanCluster lists the cluster selected by o and evaluates its objects. An
// unusable kubeconfig or an unreachable server is an exit-2 error.
// With images, the images the listed objects run are analysed meanwhile
// and waited for before the cross-object controls run.
func scanCluster(ctx context.Context, eng *engine.Engine, o *ScanOptions, images *clusterImages) (*report.Result, error) {
	cfg, name, err := RESTConfig(o.Kubeconfig, o.Context)
	if err != nil {
		return nil, usageError("%v", err)
	}
	client, err := cluster.New(cfg, name)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if os.Getenv("GOGC") == "" {
		// Listed objects are garbage as soon as the inventory has what it
		// needs, so the live heap stays small; collect less often (the soft
		// memory limit still bounds the heap).
		debug.SetGCPercent(400)
	}
	s := eng.NewSession()
	opts := cluster.Options{
		Namespaces:        splitList([]string{o.Namespace}),
		ExcludeNamespaces: splitList(o.ExcludeNamespaces),
	}
	if images != nil {
		opts.Observe = images.Observe
	}
	if err := client.Load(ctx, opts, s.Add, s.AddError); err != nil {
		return nil, usageError("%v", err)
	}
	if images != nil {
		for _, e := range images.Finish() {
			s.AddError(e)
		}
	}
	return s.Finish(), nil
}
