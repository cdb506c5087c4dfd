package main

import (
	"fmt"

	"github.com/cairn-io/cairn/internal/version"
	"github.com/spf13/cobra"
)

// newVersionCommand prints cairnctl's own version and commit; it needs no cluster.
func newVersionCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cairnctl's version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]string{"version": version.Version(), "commit": version.Commit()})
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "cairnctl "+version.String())
			return err
		},
	}
}
