package cli

import "github.com/spf13/cobra"

// NewCmdNode builds `rampart node`. Work in progress (issue 4): hidden until
// it is complete.
func NewCmdNode(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "node",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart node is not implemented yet")
		},
	}
}
