package cli

import "github.com/spf13/pflag"

// analysisOptions are the flags the rbac and netpol commands share: the
// output format and where the objects come from (files or a live cluster).
type analysisOptions struct {
	Format     string
	Cluster    bool
	Kubeconfig string
	Context    string
}

// addFlags registers the shared flags; formats is the --format help.
func (o *analysisOptions) addFlags(pf *pflag.FlagSet, formats string) {
	pf.StringVarP(&o.Format, "format", "o", "table", "output format: "+formats)
	pf.BoolVar(&o.Cluster, "cluster", false, "read a live cluster instead of files")
	pf.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (with --cluster; default: KUBECONFIG, ~/.kube/config, in-cluster)")
	pf.StringVar(&o.Context, "context", "", "kubeconfig context (with --cluster)")
}
