package cli

import "github.com/spf13/cobra"

// newCmdWebhookInstall builds `rampart webhook install`. Work in progress
// (issue 5): hidden until it is complete.
func newCmdWebhookInstall(IO) *cobra.Command {
	return &cobra.Command{
		Use:    "install",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart webhook install is not implemented yet")
		},
	}
}
