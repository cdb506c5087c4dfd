// Command cairnd runs one Cairn node. With no flags it serves a single-node cluster on
// 127.0.0.1:2379 with its data in ./cairn-data; etcd's flag names grow it into a cluster.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairn-io/cairn/internal/clidoc"
	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/version"
	"github.com/spf13/cobra"
)

func main() {
	withSysmonSetting()
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cairnd:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var f config.Flags
	cmd := &cobra.Command{
		Use:           "cairnd",
		Short:         "Cairn: a clustered, strongly consistent configuration store with etcd's v2 API",
		Args:          cobra.NoArgs,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Resolve(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			log, err := f.Logger(os.Stderr)
			if err != nil {
				return err
			}
			cfg, err := f.Node(log)
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg)
		},
	}
	f.Register(cmd.Flags())
	// gen-docs (hidden) writes the man page and completions; with a subcommand, cobra also
	// gives cairnd its `completion bash|zsh|fish` command.
	cmd.AddCommand(clidoc.Command())
	cmd.SetVersionTemplate("cairnd {{.Version}}\n")
	return cmd
}

// run serves until SIGTERM or SIGINT, then stops in order.
func run(ctx context.Context, cfg node.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	// A second signal during the stop takes Go's default action and ends the process at once.
	stop()
	cfg.Logger.Info("shutting down", "reason", "signal")
	return n.Stop()
}
