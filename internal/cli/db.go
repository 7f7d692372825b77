package cli

import "github.com/spf13/cobra"

// NewCmdDB builds `rampart db`. Work in progress (issue 6): hidden until it
// is complete.
func NewCmdDB(IO) *cobra.Command {
	return &cobra.Command{
		Use:    "db",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart db is not implemented yet")
		},
	}
}
