package cli

import "github.com/spf13/cobra"

// NewCmdImage builds `rampart image REF...` (SBOM and vulnerabilities,
// newCmdImageScan) and `rampart image verify` (signatures,
// newCmdImageVerify).
func NewCmdImage(streams IO) *cobra.Command {
	cmd := newCmdImageScan(streams)
	cmd.AddCommand(newCmdImageVerify(streams))
	return cmd
}
