package cli

import "github.com/spf13/cobra"

// newCmdImageVerify builds `rampart verify`. Work in progress (issue 6): hidden until it
// is complete.
func newCmdImageVerify(IO) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart verify is not implemented yet")
		},
	}
}
