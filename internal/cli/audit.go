package cli

import "github.com/spf13/cobra"

// NewCmdAudit builds `rampart audit`. Work in progress (issue 7): hidden until
// it is complete.
func NewCmdAudit(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "audit",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart audit is not implemented yet")
		},
	}
}
