package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/netpol"
)

// netpolOptions are the flags shared by the netpol subcommands.
type netpolOptions = analysisOptions

// clusterInventory lists a live cluster for the netpol commands; tests and
// other cluster loaders can replace it.
var clusterInventory = func(ctx context.Context, o *netpolOptions) (*k8s.Inventory, []error, error) {
	cfg, name, err := RESTConfig(o.Kubeconfig, o.Context)
	if err != nil {
		return nil, nil, err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	src := k8s.Source{File: "cluster:" + name, Cluster: name, Server: cfg.Host}
	inv, errs := netpol.LoadCluster(ctx, client, src, "")
	return inv, errs, nil
}

// NewCmdNetpol builds `rampart netpol`.
func NewCmdNetpol(streams IO) *cobra.Command {
	o := &netpolOptions{}
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Analyse NetworkPolicies: coverage, reachability, suggestions",
		Long: `Analyse NetworkPolicies of manifests (PATH..., read like rampart scan) or of a
live cluster (--cluster): which pods are isolated, whether traffic between two
endpoints is allowed and by which rules, and default-deny policies to start from.

Objects without a namespace are taken to be in "default". Namespaces without a
Namespace object carry only the kubernetes.io/metadata.name label.`,
	}
	o.addFlags(cmd.PersistentFlags(), "table|json (suggest: yaml|json)")
	cmd.AddCommand(newCmdNetpolCoverage(o, streams), newCmdNetpolReach(o, streams), newCmdNetpolSuggest(o, streams))
	return cmd
}

func newCmdNetpolCoverage(o *netpolOptions, streams IO) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "coverage [PATH...]",
		Short: "Show which workloads are isolated for ingress and egress, and by which policies",
		Example: `  rampart netpol coverage k8s/
  rampart netpol coverage --cluster -n payments -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.Format, "table", "json"); err != nil {
				return err
			}
			m, finish, err := netpolModel(cmd.Context(), o, args, streams)
			if err != nil {
				return err
			}
			var keep func(string) bool
			if namespace != "" {
				keep = func(ns string) bool { return ns == namespace }
			}
			rep := m.Coverage(keep)
			return finish(func(w io.Writer) error {
				if o.Format == "json" {
					return netpol.WriteJSON(w, rep)
				}
				return netpol.WriteCoverageTable(w, rep)
			})
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "only this namespace")
	return cmd
}

func newCmdNetpolReach(o *netpolOptions, streams IO) *cobra.Command {
	var port string
	cmd := &cobra.Command{
		Use:   "reach FROM TO [PATH...]",
		Short: "Say whether traffic from FROM to TO is allowed, and which rules decide",
		Long: `Say whether traffic from FROM to TO is allowed, and which policy rules allow
or deny it. FROM and TO are workloads (NAMESPACE/KIND/NAME), namespaces (every
workload of the namespace) or CIDRs and IP addresses (addresses outside the
cluster: they match ipBlock peers, never pod or namespace selectors).

Traffic passes when the source's egress and the destination's ingress both
allow it. Without --port, the ports that pass are listed. --port takes
PORT[/PROTO] with a number or a container port name (TCP by default).`,
		Example: `  rampart netpol reach shop/Deployment/web shop/Deployment/db --port 5432 k8s/
  rampart netpol reach 0.0.0.0/0 shop --cluster
  rampart netpol reach shop/Deployment/web 10.0.0.0/8 --port 53/UDP k8s/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError("reach needs FROM and TO")
			}
			if err := checkFormat(o.Format, "table", "json"); err != nil {
				return err
			}
			var q *netpol.Query
			if port != "" {
				var err error
				if q, err = netpol.ParseQuery(port); err != nil {
					return usageError("--port: %v", err)
				}
			}
			m, finish, err := netpolModel(cmd.Context(), o, args[2:], streams)
			if err != nil {
				return err
			}
			froms, err := m.ParseEndpoint(args[0])
			if err != nil {
				return usageError("FROM: %v", err)
			}
			tos, err := m.ParseEndpoint(args[1])
			if err != nil {
				return usageError("TO: %v", err)
			}
			var conns []*netpol.Connection
			for _, f := range froms {
				for _, t := range tos {
					c, err := m.Reach(f, t, q)
					if err != nil {
						return usageError("%v", err)
					}
					conns = append(conns, c)
				}
			}
			rep := netpol.NewReachReport(args[0], args[1], q, conns)
			return finish(func(w io.Writer) error {
				if o.Format == "json" {
					return netpol.WriteJSON(w, rep)
				}
				return netpol.WriteReachTable(w, rep)
			})
		},
	}
	cmd.Flags().StringVar(&port, "port", "", "PORT[/PROTO]: a port number or container port name, TCP|UDP|SCTP")
	return cmd
}

func newCmdNetpolSuggest(o *netpolOptions, streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suggest NAMESPACE [PATH...]",
		Short: "Print default-deny NetworkPolicies for a namespace plus the allow rules its objects need",
		Long: `Print NetworkPolicies for NAMESPACE as multi-document YAML: a default deny of
ingress and egress, DNS egress to kube-dns, ingress to every Service's target
ports (from any pod for ClusterIP Services, from anywhere for NodePort and
LoadBalancer Services), and egress from the namespace's pods to its own
Services. Review them and add rules for traffic the manifests do not show.`,
		Example: `  rampart netpol suggest shop k8s/ > shop-policies.yaml
  rampart netpol suggest shop --cluster | kubectl apply --dry-run=server -f -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError("suggest needs NAMESPACE")
			}
			format := o.Format
			if format == "table" {
				format = "yaml"
			}
			if err := checkFormat(format, "yaml", "json"); err != nil {
				return err
			}
			m, finish, err := netpolModel(cmd.Context(), o, args[1:], streams)
			if err != nil {
				return err
			}
			sugg := m.Suggest(args[0])
			return finish(func(w io.Writer) error {
				if format == "json" {
					items := make([]netpol.NetworkPolicy, len(sugg))
					for i, s := range sugg {
						items[i] = s.Policy
					}
					return netpol.WriteJSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
				}
				b, err := netpol.SuggestYAML(sugg)
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			})
		},
	}
	return cmd
}

func checkFormat(f string, allowed ...string) error {
	for _, a := range allowed {
		if f == a {
			return nil
		}
	}
	return usageError("unknown --format %q (want %s)", f, joinOr(allowed))
}

func joinOr(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "|"
		}
		out += x
	}
	return out
}

// netpolModel reads the input of a netpol command and returns the model
// and a function that writes the output, then reports the input errors
// (exit code 2 when there were any, as for scan).
func netpolModel(ctx context.Context, o *netpolOptions, paths []string, streams IO) (*netpol.Model, func(func(io.Writer) error) error, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var inv *k8s.Inventory
	var problems []string
	switch {
	case o.Cluster && len(paths) > 0:
		return nil, nil, usageError("--cluster reads the cluster: give no PATH")
	case o.Cluster:
		i, errs, err := clusterInventory(ctx, o)
		if err != nil {
			return nil, nil, usageError("%v", err)
		}
		inv = i
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	case len(paths) == 0:
		return nil, nil, usageError("give PATH... (files, directories or - for stdin) or --cluster")
	default:
		i, errs := netpol.LoadFiles(ctx, paths, load.Options{
			Limits:    load.DefaultLimits,
			Renderers: renderers(&ScanOptions{ReleaseName: "rampart-scan"}),
			Stdin:     streams.In,
		})
		inv = i
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	}
	m := netpol.FromInventory(inv)
	finish := func(write func(io.Writer) error) error {
		bw := bufio.NewWriter(streams.Out)
		werr := write(bw)
		if ferr := bw.Flush(); werr == nil {
			werr = ferr
		}
		if werr != nil {
			return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("writing output: %v", werr)}
		}
		for _, p := range problems {
			fmt.Fprintln(streams.Err, "rampart: error: "+p)
		}
		if len(problems) > 0 {
			return &ExitError{Code: ExitUsage}
		}
		return nil
	}
	return m, finish, nil
}
