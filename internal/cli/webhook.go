package cli

import "github.com/spf13/cobra"

// NewCmdWebhook builds `rampart webhook`. Work in progress (issue 5): hidden until
// it is complete.
func NewCmdWebhook(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "webhook",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart webhook is not implemented yet")
		},
	}
}
