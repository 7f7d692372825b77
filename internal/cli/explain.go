package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdExplain builds `rampart explain ID`.
func NewCmdExplain(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "explain CONTROL-ID",
		Short: "Explain one control: why it matters, how to fix it, where it maps",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cat, err := loadCatalogue()
			if err != nil {
				return err
			}
			c, ok := cat.reg.Get(args[0])
			if !ok {
				return usageError("unknown control %q (see 'rampart controls')", args[0])
			}
			w := streams.Out
			fmt.Fprintf(w, "%s — %s\nSeverity: %s   Category: %s\n\n", c.ID, c.Title, c.Severity, c.Category)
			fmt.Fprintf(w, "Why it matters\n  %s\n\n", indent(strings.TrimSpace(c.Description)))
			fmt.Fprintf(w, "Remediation\n  %s\n", indent(strings.TrimSpace(c.Remediation)))
			if m := cat.fws.MappingsOf(c.ID); len(m) > 0 {
				fmt.Fprintln(w, "\nFrameworks")
				for _, x := range m {
					fmt.Fprintf(w, "  %-15s %-10s %s\n", x.Framework, x.Item, x.Name)
				}
			}
			if len(c.References) > 0 {
				fmt.Fprintln(w, "\nReferences")
				for _, r := range c.References {
					fmt.Fprintf(w, "  %s\n", r)
				}
			}
			fmt.Fprintf(w, "\nSuppress on one object with the annotation:\n  rampart.dev/ignore: %q\n  rampart.dev/ignore-reason: \"why this is acceptable\"\n", c.ID)
			return nil
		},
	}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
