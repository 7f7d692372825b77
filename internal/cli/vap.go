package cli

import "github.com/spf13/cobra"

// NewCmdVAP builds `rampart vap`. Work in progress (issue 5): hidden until
// it is complete.
func NewCmdVAP(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "vap",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart vap is not implemented yet")
		},
	}
}
