package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/spf13/cobra"
)

// nodeView is a key as -o json prints it.
type nodeView struct {
	Key           string     `json:"key"`
	Value         string     `json:"value,omitempty"`
	Dir           bool       `json:"dir,omitempty"`
	TTL           int64      `json:"ttl,omitempty"`
	ModifiedIndex uint64     `json:"modifiedIndex"`
	Nodes         []nodeView `json:"nodes,omitempty"`
}

func view(n *client.Node) nodeView {
	v := nodeView{Key: n.Key, Value: n.Value, Dir: n.Dir, TTL: n.TTL, ModifiedIndex: n.ModifiedIndex}
	for _, c := range n.Nodes {
		v.Nodes = append(v.Nodes, view(c))
	}
	return v
}

func flatten(n *client.Node, rows *[][]string) {
	kind, ttl := "key", ""
	if n.Dir {
		kind = "dir"
	}
	if n.TTL > 0 {
		ttl = strconv.FormatInt(n.TTL, 10)
	}
	*rows = append(*rows, []string{n.Key, kind, n.Value, ttl, strconv.FormatUint(n.ModifiedIndex, 10)})
	for _, c := range n.Nodes {
		flatten(c, rows)
	}
}

func (g *globalFlags) printNode(cmd *cobra.Command, r *client.Response, children bool) error {
	if g.output == "json" {
		return writeJSON(cmd.OutOrStdout(), struct {
			Action   string   `json:"action"`
			Node     nodeView `json:"node"`
			Index    uint64   `json:"index"`
			ServedBy string   `json:"servedBy"`
		}{r.Action, view(r.Node), r.Index, r.ServedBy})
	}
	var rows [][]string
	if children && r.Node.Dir {
		for _, c := range r.Node.Nodes {
			flatten(c, &rows)
		}
	} else {
		flatten(r.Node, &rows)
	}
	return writeTable(cmd.OutOrStdout(), []string{"KEY", "TYPE", "VALUE", "TTL", "MODIFIED"}, rows)
}

func newGetCommand(g *globalFlags) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{Use: "get KEY", Short: "Read a key (a directory's subtree with --recursive)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var opts []client.GetOption
				if recursive {
					opts = append(opts, client.Recursive(), client.Sorted())
				}
				r, err := s.Get(ctx, args[0], opts...)
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "the whole subtree")
	return cmd
}

func newPutCommand(g *globalFlags) *cobra.Command {
	var ttl time.Duration
	var prevValue string
	var prevIndex uint64
	var create, update bool
	cmd := &cobra.Command{Use: "put KEY VALUE", Short: "Set a key", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var opts []client.PutOption
				if ttl > 0 {
					opts = append(opts, client.WithTTL(ttl))
				}
				if cmd.Flags().Changed("prev-value") {
					opts = append(opts, client.PrevValue(prevValue))
				}
				if prevIndex > 0 {
					opts = append(opts, client.PrevIndex(prevIndex))
				}
				if create && update {
					return fmt.Errorf("--create and --update exclude each other")
				}
				if create || update {
					opts = append(opts, client.PrevExist(update))
				}
				r, err := s.Put(ctx, args[0], args[1], opts...)
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	f := cmd.Flags()
	f.DurationVar(&ttl, "ttl", 0, "expire after this long (e.g. 30s)")
	f.StringVar(&prevValue, "prev-value", "", "only if the current value is this")
	f.Uint64Var(&prevIndex, "prev-index", 0, "only if the current modified index is this")
	f.BoolVar(&create, "create", false, "only if the key does not exist")
	f.BoolVar(&update, "update", false, "only if the key exists")
	return cmd
}

func newRmCommand(g *globalFlags) *cobra.Command {
	var recursive, dir bool
	var prevValue string
	var prevIndex uint64
	cmd := &cobra.Command{Use: "rm KEY", Short: "Remove a key (a directory with --dir or --recursive)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var opts []client.DeleteOption
				if recursive {
					opts = append(opts, client.Recursive())
				}
				if cmd.Flags().Changed("prev-value") {
					opts = append(opts, client.PrevValue(prevValue))
				}
				if prevIndex > 0 {
					opts = append(opts, client.PrevIndex(prevIndex))
				}
				var r *client.Response
				var err error
				if dir {
					r, err = s.Rmdir(ctx, args[0], opts...)
				} else {
					r, err = s.Delete(ctx, args[0], opts...)
				}
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	f := cmd.Flags()
	f.BoolVarP(&recursive, "recursive", "r", false, "remove a directory and everything under it")
	f.BoolVar(&dir, "dir", false, "remove an empty directory")
	f.StringVar(&prevValue, "prev-value", "", "only if the current value is this")
	f.Uint64Var(&prevIndex, "prev-index", 0, "only if the current modified index is this")
	return cmd
}

func newMkdirCommand(g *globalFlags) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{Use: "mkdir DIR", Short: "Create a directory", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var opts []client.PutOption
				if ttl > 0 {
					opts = append(opts, client.WithTTL(ttl))
				}
				r, err := s.Mkdir(ctx, args[0], opts...)
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "expire after this long")
	return cmd
}

func newLsCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "ls [DIR]", Short: "List a directory's subtree", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "/"
			if len(args) == 1 {
				dir = args[0]
			}
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				r, err := s.List(ctx, dir)
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, true)
			})
		}}
}

func newWatchCommand(g *globalFlags) *cobra.Command {
	var recursive bool
	var count int
	var after uint64
	cmd := &cobra.Command{Use: "watch KEY", Short: "Print changes to a key until interrupted (or --count events)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A watch runs until interrupted: --timeout bounds only connecting.
			ctx := cmd.Context()
			cctx, cancel := context.WithTimeout(ctx, g.timeout)
			c, err := g.connect(cctx, cmd)
			cancel()
			if err != nil {
				return err
			}
			defer c.Close()
			opts := []client.WatchOption{}
			if recursive {
				opts = append(opts, client.Recursive())
			}
			if after > 0 {
				opts = append(opts, client.WaitIndex(after))
			}
			n := 0
			for ev := range c.CreateSession(g.behavior()).Watch(ctx, args[0], opts...) {
				if ev.Err != nil {
					return ev.Err
				}
				if g.output == "json" {
					if err := g.printNode(cmd, ev.Response, false); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s %q (index %d, from %s)\n", ev.Response.Action,
						ev.Response.Node.Key, ev.Response.Node.Value, ev.Response.Node.ModifiedIndex, ev.Response.ServedBy)
				}
				if n++; count > 0 && n >= count {
					return nil
				}
			}
			return ctx.Err()
		}}
	f := cmd.Flags()
	f.BoolVarP(&recursive, "recursive", "r", false, "watch the whole subtree")
	f.IntVar(&count, "count", 0, "exit after this many events (0: never)")
	f.Uint64Var(&after, "index", 0, "start at this index instead of the next change")
	return cmd
}
