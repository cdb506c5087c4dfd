// Package clidoc owns the man pages and shell completions of Cairn's commands (cairnd,
// cairnctl), generated from their cobra definitions so that they never drift from the flags
// the binaries accept. It writes files only where it is told; it must never change a command's
// behaviour or flags.
package clidoc

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-io/cairn/internal/version"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Write puts root's man pages under dir/man1 (one per command, as cobra/doc lays them out) and
// its bash, zsh and fish completions under dir/completion.
func Write(root *cobra.Command, dir string) error {
	man := filepath.Join(dir, "man1")
	comp := filepath.Join(dir, "completion")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// No generation date in the pages: the same definitions give the same files.
	root.DisableAutoGenTag = true
	hdr := &doc.GenManHeader{Section: "1", Source: "Cairn " + version.Version(), Manual: "Cairn Manual"}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	name := root.Name()
	gens := []struct {
		file string
		gen  func(path string) error
	}{
		{name + ".bash", func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{"_" + name, root.GenZshCompletionFile},
		{name + ".fish", func(p string) error { return root.GenFishCompletionFile(p, true) }},
	}
	for _, g := range gens {
		if err := g.gen(filepath.Join(comp, g.file)); err != nil {
			return fmt.Errorf("%s: %w", g.file, err)
		}
	}
	return nil
}

// Command is the hidden `gen-docs DIR` command each binary carries: `make man` runs it. It is
// hidden so that it appears in neither the help nor the pages it writes.
func Command() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write this command's man pages and shell completions under DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return Write(cmd.Root(), args[0])
		},
	}
}
