package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/rbac"
)

// rbacOptions are the flags shared by the rbac subcommands.
type rbacOptions = analysisOptions

// rbacCluster reads the RBAC objects of a live cluster; tests can replace it.
var rbacCluster = func(ctx context.Context, o *rbacOptions, b *rbac.Builder) error {
	cfg, name, err := RESTConfig(o.Kubeconfig, o.Context)
	if err != nil {
		return usageError("%v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return usageError("%v", err)
	}
	return b.AddCluster(ctx, cs, k8s.Source{File: "cluster:" + name, Cluster: name, Server: cfg.Host})
}

// NewCmdRBAC builds `rampart rbac`.
func NewCmdRBAC(streams IO) *cobra.Command {
	o := &rbacOptions{}
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Analyse RBAC: who can do what, what one subject can do, risky subjects",
		Long: `Analyse the RBAC policy of manifests (PATH..., read like rampart scan, Helm
charts and Kustomize overlays included) or of a live cluster (--cluster, which
needs list on roles, clusterroles, rolebindings and clusterrolebindings).

Evaluation follows the API server's RBAC authorizer: wildcards, resourceNames
(a rule with resourceNames never allows a request without a name),
subresources, nonResourceURLs, aggregated ClusterRoles, RoleBindings to
ClusterRoles (namespace-scoped), ServiceAccount groups and
system:authenticated. The system:masters group is allowed everything by the
API server before RBAC; it is always listed.`,
	}
	o.addFlags(cmd.PersistentFlags(), "table|json")
	cmd.AddCommand(newCmdRBACWhoCan(o, streams), newCmdRBACCan(o, streams), newCmdRBACRisks(o, streams))
	return cmd
}

// wellKnownGroups maps common resources to their API group, for who-can
// without --api-group or a RESOURCE.GROUP argument.
var wellKnownGroups = map[string]string{
	"deployments": "apps", "daemonsets": "apps", "statefulsets": "apps", "replicasets": "apps", "controllerrevisions": "apps",
	"jobs": "batch", "cronjobs": "batch",
	"roles": rbac.Group, "clusterroles": rbac.Group, "rolebindings": rbac.Group, "clusterrolebindings": rbac.Group,
	"ingresses": "networking.k8s.io", "networkpolicies": "networking.k8s.io", "ingressclasses": "networking.k8s.io",
	"mutatingwebhookconfigurations": "admissionregistration.k8s.io", "validatingwebhookconfigurations": "admissionregistration.k8s.io",
	"validatingadmissionpolicies": "admissionregistration.k8s.io", "validatingadmissionpolicybindings": "admissionregistration.k8s.io",
	"certificatesigningrequests": "certificates.k8s.io", "customresourcedefinitions": "apiextensions.k8s.io",
	"horizontalpodautoscalers": "autoscaling", "poddisruptionbudgets": "policy", "storageclasses": "storage.k8s.io",
	"priorityclasses": "scheduling.k8s.io", "leases": "coordination.k8s.io", "tokenreviews": "authentication.k8s.io",
	"subjectaccessreviews": "authorization.k8s.io", "selfsubjectaccessreviews": "authorization.k8s.io",
}

// parseResource reads RESOURCE[.GROUP][/SUBRESOURCE] (or a /URL path for a
// non-resource request) into req.
func parseResource(arg, group string, groupSet bool) (rbac.Request, error) {
	if strings.HasPrefix(arg, "/") {
		return rbac.Request{Path: arg}, nil
	}
	res, sub, _ := strings.Cut(arg, "/")
	if res == "" || strings.Contains(sub, "/") {
		return rbac.Request{}, fmt.Errorf("resource %q: want RESOURCE[.GROUP][/SUBRESOURCE] or a /path", arg)
	}
	if name, g, ok := strings.Cut(res, "."); ok {
		if groupSet && g != group {
			return rbac.Request{}, fmt.Errorf("resource %q names group %q but --api-group is %q", arg, g, group)
		}
		res, group, groupSet = name, g, true
	}
	if !groupSet {
		group = wellKnownGroups[res]
	}
	return rbac.Request{APIGroup: group, Resource: strings.ToLower(res), Subresource: sub}, nil
}

func newCmdRBACWhoCan(o *rbacOptions, streams IO) *cobra.Command {
	var namespace, name, group string
	var all bool
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE[/SUBRESOURCE] [PATH...]",
		Short: "List the subjects allowed to make a request, with the binding and role that grant it",
		Long: `List the users, groups and ServiceAccounts allowed VERB on RESOURCE, each with
the binding, role and rule that grant it.

RESOURCE is a plural resource name, optionally with its API group and a
subresource (deployments.apps/scale, pods/exec), or a URL path for a
non-resource request (/metrics). Common resources need no group; others take
--api-group or RESOURCE.GROUP.

Without -n the question is asked cluster-wide (as a SubjectAccessReview
without a namespace): only ClusterRoleBindings answer it. With -n NS,
RoleBindings of NS count too; with -A, RoleBindings of every namespace are
listed, each with its scope.`,
		Example: `  rampart rbac who-can get secrets -n payments k8s/
  rampart rbac who-can create pods/exec -A --cluster
  rampart rbac who-can get /metrics --cluster -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError("who-can needs VERB and RESOURCE")
			}
			if err := checkFormat(o.Format, "table", "json"); err != nil {
				return err
			}
			req, err := parseResource(args[1], group, cmd.Flags().Changed("api-group"))
			if err != nil {
				return usageError("%v", err)
			}
			req.Verb = strings.ToLower(args[0])
			if req.IsResource() {
				req.Namespace, req.Name = namespace, name
			} else if namespace != "" || name != "" || all {
				return usageError("a non-resource request (%s) has no namespace or name", args[1])
			}
			if all && namespace != "" {
				return usageError("-A and -n exclude each other")
			}
			g, finish, err := rbacGraph(cmd.Context(), o, args[2:], streams)
			if err != nil {
				return err
			}
			rep := rbac.NewWhoCanReport(g, req, all)
			return finish(func(w io.Writer) error {
				if o.Format == "json" {
					return rbac.WriteJSON(w, rep)
				}
				return rbac.WriteWhoCanTable(w, rep)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the request (default: cluster-wide)")
	f.BoolVarP(&all, "all-namespaces", "A", false, "also list RoleBindings of every namespace")
	f.StringVar(&name, "name", "", "name of the object (resourceNames rules only allow named requests)")
	f.StringVar(&group, "api-group", "", `API group of RESOURCE ("" is the core group)`)
	return cmd
}

func newCmdRBACCan(o *rbacOptions, streams IO) *cobra.Command {
	var groups []string
	cmd := &cobra.Command{
		Use:   "can SUBJECT [PATH...]",
		Short: "List the effective permissions of one subject, risky ones marked",
		Long: `List the effective permissions of SUBJECT, rule by rule, with the binding and
role of each, marking risky ones (secrets read, pods/exec, workload creation,
escalate/bind/impersonate, nodes/proxy, webhook configurations, CSR approval,
token requests, wildcards, cluster-admin).

SUBJECT is user:NAME, group:NAME or sa:NAMESPACE:NAME. A ServiceAccount also
holds what its groups are granted (system:serviceaccounts,
system:serviceaccounts:NAMESPACE, system:authenticated), a user what
system:authenticated and --group groups are granted. group:NAME shows what that
group itself is granted.`,
		Example: `  rampart rbac can sa:payments:ci-bot k8s/
  rampart rbac can user:alice --group devs --cluster`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError("can needs SUBJECT")
			}
			if err := checkFormat(o.Format, "table", "json"); err != nil {
				return err
			}
			s, err := rbac.ParseSubject(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			g, finish, err := rbacGraph(cmd.Context(), o, args[1:], streams)
			if err != nil {
				return err
			}
			rep := rbac.NewCanReport(g, s, groups)
			return finish(func(w io.Writer) error {
				if o.Format == "json" {
					return rbac.WriteJSON(w, rep)
				}
				return rbac.WriteCanTable(w, rep)
			})
		},
	}
	cmd.Flags().StringSliceVar(&groups, "group", nil, "extra groups of the subject (repeatable)")
	return cmd
}

func newCmdRBACRisks(o *rbacOptions, streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "risks [PATH...]",
		Short: "Rank subjects by the risk of their permissions, with the path of each risk",
		Long: `Rank every subject named by a binding by the risk of its effective
permissions (including those granted to its groups), worst first, with the
reason and the path subject → binding → role → rule of each risk.

Scores: cluster-admin 100, escalate/bind/impersonate 95, nodes/proxy, webhook
configurations and cluster-wide secrets read 85, token requests 80, CSR
approval, workload creation and pods/exec cluster-wide 75; namespaced grants
score lower, rules limited by resourceNames score half.`,
		Example: `  rampart rbac risks k8s/
  rampart rbac risks --cluster -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.Format, "table", "json"); err != nil {
				return err
			}
			g, finish, err := rbacGraph(cmd.Context(), o, args, streams)
			if err != nil {
				return err
			}
			rep := rbac.NewRiskReport(g)
			return finish(func(w io.Writer) error {
				if o.Format == "json" {
					return rbac.WriteJSON(w, rep)
				}
				return rbac.WriteRiskTable(w, rep)
			})
		},
	}
}

// rbacGraph reads the input of an rbac command and returns the graph and a
// function that writes the output and then reports input errors (exit code
// 2 when there were any, as for scan).
func rbacGraph(ctx context.Context, o *rbacOptions, paths []string, streams IO) (*rbac.Graph, func(func(io.Writer) error) error, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var b rbac.Builder
	var problems []string
	switch {
	case o.Cluster && len(paths) > 0:
		return nil, nil, usageError("--cluster reads the cluster: give no PATH")
	case o.Cluster:
		if err := rbacCluster(ctx, o, &b); err != nil {
			return nil, nil, err
		}
	case len(paths) == 0:
		return nil, nil, usageError("give PATH... (files, directories or - for stdin) or --cluster")
	default:
		for _, e := range b.AddFiles(ctx, paths, load.Options{
			Limits:    load.DefaultLimits,
			Renderers: renderers(&ScanOptions{ReleaseName: "rampart-scan"}),
			Stdin:     streams.In,
		}) {
			problems = append(problems, e.Error())
		}
	}
	g := b.Build()
	finish := func(write func(io.Writer) error) error {
		if err := write(streams.Out); err != nil {
			return err
		}
		if len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(streams.Err, "rampart: "+p)
			}
			return &ExitError{Code: ExitUsage}
		}
		return nil
	}
	return g, finish, nil
}
