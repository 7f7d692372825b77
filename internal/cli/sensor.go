package cli

import "github.com/spf13/cobra"

// NewCmdSensor builds `rampart sensor`. Work in progress (issue 7): hidden until
// it is complete.
func NewCmdSensor(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:    "sensor",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError("rampart sensor is not implemented yet")
		},
	}
}
