package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/node"
)

// NodeOptions are the flags of `rampart node`.
type NodeOptions struct {
	Root     string
	Format   string
	Output   string
	FailOn   string
	NoColor  bool
	Checks   []string
	Skip     []string
	Sections []string
	Targets  []string
	List     bool
}

// NewCmdNode builds `rampart node`.
func NewCmdNode(streams IO) *cobra.Command {
	o := &NodeOptions{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Audit this node's Kubernetes components against the CIS Kubernetes Benchmark v1.10",
		Long: `Audit the kube-apiserver, etcd, kube-controller-manager, kube-scheduler,
kubelet and kube-proxy processes running on this machine, their config files
and the permissions and ownership of their PKI and config files, against the
CIS Kubernetes Benchmark v1.10 (sections 1 to 4).

Settings are resolved as each component resolves them: a command-line flag
wins over the component's config file, which wins over the defaults of the
file's API version; without a config file the binary's flag defaults apply
(e.g. the kubelet's --anonymous-auth defaults to true, its config file's
authentication.anonymous.enabled to false). Every result says where its value
came from (flag, file, default, stat or absent).

Results are pass, fail, warn (could not be decided, e.g. an unreadable file),
manual (CIS leaves it to review) and not-applicable (the component does not
run here). Read the node from a mounted filesystem with --root (in a Pod:
--root /host; see deploy/node-audit.yaml).

Exit codes: 0 nothing failed at or above --fail-on, 1 failures at or above
--fail-on, 2 usage error or /proc could not be listed.`,
		Example: `  sudo rampart node
  rampart node --target node -o json
  rampart node --check 1.2.1,4.2.* --fail-on high
  rampart node --root /host -o sarif --output node.sarif
  rampart node --list`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runNode(o, streams) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "/", "directory holding the node's filesystem (/proc, /etc…)")
	f.StringVarP(&o.Format, "format", "o", "table", "output format: "+strings.Join(formatNames(), "|"))
	f.StringVar(&o.Output, "output", "", "write the report to FILE instead of stdout")
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 on failing checks at or above this severity")
	f.BoolVar(&o.NoColor, "no-color", false, "never colour table output")
	f.StringSliceVarP(&o.Checks, "check", "c", nil, "only run these CIS checks (IDs or globs: 1.2.1,4.2.*)")
	f.StringSliceVar(&o.Skip, "skip", nil, "do not run these CIS checks (IDs or globs)")
	f.StringSliceVar(&o.Sections, "section", nil, "only run these CIS sections (1.2, 4)")
	f.StringSliceVar(&o.Targets, "target", nil, "only run checks of these targets: master, etcd, controlplane, node")
	f.BoolVar(&o.List, "list", false, "list the selected checks and exit")
	return cmd
}

func runNode(o *NodeOptions, streams IO) error {
	filter := node.Filter{Checks: o.Checks, Skip: o.Skip, Sections: o.Sections, Targets: o.Targets}
	if err := filter.Validate(); err != nil {
		return usageError("--target: %v", err)
	}
	failOn, err := control.ParseSeverity(o.FailOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	w, ok := writers[o.Format]
	if !ok {
		return usageError("unknown --format %q (want %s)", o.Format, strings.Join(formatNames(), "|"))
	}
	checks := node.Select(filter)
	if len(checks) == 0 {
		return usageError("no check matches --check/--skip/--section/--target")
	}
	if o.List {
		tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTARGET\tSEVERITY\tCIS\tTITLE")
		for _, c := range checks {
			kind := "Automated"
			if c.Manual {
				kind = "Manual"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Target, c.Severity, kind, c.Title)
		}
		return tw.Flush()
	}
	res := node.Run(node.DirHost{Root: o.Root}, filter)
	return writeReport(streams, res.Report(Version), w, reportOptions{Output: o.Output, NoColor: o.NoColor, FailOn: failOn})
}
