package cli

import "github.com/spf13/cobra"

// NewCmdProbe builds `rampart probe`. Work in progress (issue 4): hidden until
// it is complete.
func NewCmdProbe(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "probe",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart probe is not implemented yet")
		},
	}
}
