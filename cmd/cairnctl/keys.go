package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// ttlValue is --ttl: whole seconds as etcdctl takes them (--ttl 60), or a Go duration
// (--ttl 1m, --ttl 90s), which is rounded up to whole seconds by the SDK.
type ttlValue time.Duration

func (t *ttlValue) String() string {
	if *t == 0 {
		return "0"
	}
	return time.Duration(*t).String()
}

func (t *ttlValue) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return fmt.Errorf("%d seconds is out of range", n)
		}
		*t = ttlValue(time.Duration(n) * time.Second)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want seconds (60) or a duration (1m30s)")
	}
	if d < 0 {
		return fmt.Errorf("negative TTL %s", s)
	}
	*t = ttlValue(d)
	return nil
}

func (t *ttlValue) Type() string { return "seconds|duration" }

// option is WithTTL when a TTL was given.
func (t ttlValue) option() []client.PutOption {
	if t <= 0 {
		return nil
	}
	return []client.PutOption{client.WithTTL(time.Duration(t))}
}

func ttlFlag(fs *pflag.FlagSet, t *ttlValue) {
	fs.Var(t, "ttl", "expire after this many seconds (60, as etcdctl) or this duration (1m)")
}

func newPutCommand(g *globalFlags) *cobra.Command {
	var ttl ttlValue
	var prevValue string
	var prevIndex uint64
	var create, update bool
	cmd := &cobra.Command{Use: "put KEY VALUE", Short: "Set a key", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				opts := ttl.option()
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
	ttlFlag(f, &ttl)
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

// newMkCommand is etcdctl's mk: create a key that must not exist yet, or, with --in-order, a
// new key under a directory whose name sorts after every key created that way before.
func newMkCommand(g *globalFlags) *cobra.Command {
	var ttl ttlValue
	var inOrder bool
	cmd := &cobra.Command{Use: "mk KEY VALUE", Short: "Create a key that does not exist yet (--in-order: a new key under the directory KEY)",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var r *client.Response
				var err error
				if inOrder {
					r, err = s.CreateInOrder(ctx, args[0], args[1], ttl.option()...)
				} else {
					r, err = s.Put(ctx, args[0], args[1], append(ttl.option(), client.PrevExist(false))...)
				}
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	ttlFlag(cmd.Flags(), &ttl)
	cmd.Flags().BoolVar(&inOrder, "in-order", false, "create an in-order key under the directory KEY (its name is the store index)")
	return cmd
}

func newMkdirCommand(g *globalFlags) *cobra.Command {
	var ttl ttlValue
	cmd := &cobra.Command{Use: "mkdir DIR", Short: "Create a directory", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				r, err := s.Mkdir(ctx, args[0], ttl.option()...)
				if err != nil {
					return err
				}
				return g.printNode(cmd, r, false)
			})
		}}
	ttlFlag(cmd.Flags(), &ttl)
	return cmd
}

// newLsCommand is etcdctl's ls: the keys of one directory level, one per line, sorted; with
// --recursive every key of the subtree, each directory followed by what it holds. -o json
// prints the response as the SDK returns it.
func newLsCommand(g *globalFlags) *cobra.Command {
	var recursive, slash bool
	cmd := &cobra.Command{Use: "ls [DIR]", Short: "List a directory (its whole subtree with --recursive)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "/"
			if len(args) == 1 {
				dir = args[0]
			}
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				var r *client.Response
				var err error
				if recursive {
					r, err = s.List(ctx, dir)
				} else {
					r, err = s.Get(ctx, dir, client.Sorted())
				}
				if err != nil {
					return err
				}
				if g.output == "json" {
					return g.printNode(cmd, r, true)
				}
				w := cmd.OutOrStdout()
				if !r.Node.Dir {
					_, err := fmt.Fprintln(w, r.Node.Key)
					return err
				}
				var walk func(n *client.Node) error
				walk = func(n *client.Node) error {
					for _, c := range n.Nodes {
						name := c.Key
						if slash && c.Dir {
							name += "/"
						}
						if _, err := fmt.Fprintln(w, name); err != nil {
							return err
						}
						if err := walk(c); err != nil {
							return err
						}
					}
					return nil
				}
				return walk(r.Node)
			})
		}}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "list the whole subtree")
	cmd.Flags().BoolVarP(&slash, "append-slash", "p", false, "append a slash (/) to directories, as etcdctl ls -p")
	return cmd
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
