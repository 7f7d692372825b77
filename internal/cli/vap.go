package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/vap"
)

// VAPExportOptions are the flags of `rampart vap export`.
type VAPExportOptions struct {
	Rules             []string
	Controls          []string
	NoBuiltins        bool
	Actions           []string
	Format            string
	ExcludeNamespaces []string
	FailClosed        bool
}

// NewCmdVAP builds `rampart vap`.
func NewCmdVAP(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vap",
		Short: "Export controls as native ValidatingAdmissionPolicies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("rampart vap needs a subcommand (export)")
		},
	}
	cmd.AddCommand(newCmdVAPExport(streams))
	return cmd
}

func newCmdVAPExport(streams IO) *cobra.Command {
	o := &VAPExportOptions{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print ValidatingAdmissionPolicy and Binding objects for the controls CEL can express",
		Long: `Print a ValidatingAdmissionPolicy and a ValidatingAdmissionPolicyBinding
(admissionregistration.k8s.io/v1) for every built-in control that CEL can
express faithfully and for every custom rule of --rules, so that the API
server enforces them without a webhook. Controls that CEL cannot express
are listed on stderr as skipped, with the reason.

Bindings leave out kube-system by a namespaceSelector (--exclude-namespaces)
unless a custom rule names its namespaces. failurePolicy is Ignore: an
expression that cannot be evaluated admits the request; --fail-closed
denies it instead. See docs/cel.md.`,
		Example: `  rampart vap export | kubectl apply -f -
  rampart vap export --controls privileged-container,host-pid --action Warn
  rampart vap export --rules examples/rules/rules.yaml --no-builtins`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVAPExport(o, streams)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Rules, "rules", nil, "custom rule FILE in CEL (repeatable)")
	f.StringSliceVar(&o.Controls, "controls", nil, "only export these control and rule IDs")
	f.BoolVar(&o.NoBuiltins, "no-builtins", false, "export only the custom rules of --rules")
	f.StringSliceVar(&o.Actions, "action", []string{"Deny"}, "validationActions of the bindings: Deny, Warn, Audit (Warn,Audit together; Deny and Warn exclude each other)")
	f.StringVarP(&o.Format, "format", "o", "yaml", "output format: yaml|json")
	f.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", []string{"kube-system"}, "namespaces the bindings leave out")
	f.BoolVar(&o.FailClosed, "fail-closed", false, "failurePolicy Fail: deny requests whose evaluation fails")
	return cmd
}

func runVAPExport(o *VAPExportOptions, streams IO) error {
	if o.Format != "yaml" && o.Format != "json" {
		return usageError("unknown --format %q (want yaml|json)", o.Format)
	}
	actions, err := vap.ParseActions(splitList(o.Actions))
	if err != nil {
		return usageError("--action: %v", err)
	}
	cat, err := loadCatalogue()
	if err != nil {
		return err
	}
	rules, err := loadRules(cat, o.Rules)
	if err != nil {
		return err
	}
	only := map[string]bool{}
	for _, id := range splitList(o.Controls) {
		known := false
		if _, ok := cat.reg.Get(id); ok {
			known = true
		}
		for _, r := range rules {
			known = known || r.ID == id
		}
		if !known {
			return usageError("unknown control %q (see 'rampart controls' and the --rules files)", id)
		}
		only[id] = true
	}
	var builtins []*control.Control
	if !o.NoBuiltins {
		for _, c := range cat.reg.All() {
			if len(only) == 0 || only[c.ID] {
				builtins = append(builtins, c)
			}
		}
	}
	policies, skipped := vap.Builtins(builtins)
	for _, r := range rules {
		if len(only) == 0 || only[r.ID] {
			policies = append(policies, vap.FromRule(r))
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(streams.Err, "rampart vap export: skipped %s: %s\n", s.ID, s.Reason)
	}
	if len(policies) == 0 {
		return usageError("nothing to export: none of the selected controls can be expressed in CEL")
	}
	objs, err := vap.Objects(policies, vap.Options{Actions: actions, ExcludeNamespaces: splitList(o.ExcludeNamespaces), FailClosed: o.FailClosed})
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return vap.WriteJSON(streams.Out, objs)
	}
	return vap.WriteYAML(streams.Out, objs)
}

// loadRules loads custom rule files; their IDs must not be built-in
// control IDs. Errors are usage errors, one per line.
func loadRules(cat *catalogue, files []string) ([]*celrules.Rule, error) {
	if len(files) == 0 {
		return nil, nil
	}
	rules, err := celrules.LoadFiles(files, celrules.Options{Reserved: func(id string) bool {
		_, ok := cat.reg.Get(id)
		return ok
	}})
	if err != nil {
		return nil, usageError("%s", strings.ReplaceAll(err.Error(), "\n", "\nrampart: "))
	}
	return rules, nil
}
