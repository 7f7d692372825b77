package cli

import "github.com/spf13/cobra"

// newCmdImageScan builds `rampart image`. Work in progress (issue 6): hidden until it
// is complete.
func newCmdImageScan(IO) *cobra.Command {
	return &cobra.Command{
		Use:    "image",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart image is not implemented yet")
		},
	}
}
