package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/client"
	"github.com/spf13/cobra"
)

func newMemberCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "List and change the cluster's members"}
	var learner bool
	add := &cobra.Command{Use: "add PEER_URL[,PEER_URL...]", Short: "Add a member (then start it with --initial-cluster-state existing)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
				m, err := c.Members().Add(ctx, splitList(args[0]), learner)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), m)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added member %s at %s\n", m.ID, m.PeerURL)
				return nil
			})
		}}
	add.Flags().BoolVar(&learner, "learner", false, "add as a non-voting learner (database-standby)")
	byName := func(use, short, done string, do func(*client.Members, context.Context, string) error) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					if err := do(c.Members(), ctx, args[0]); err != nil {
						return err
					}
					return g.done(cmd, "member "+args[0]+" "+done, map[string]any{"member": args[0], "action": use})
				})
			}}
	}
	get := &cobra.Command{Use: "get NAME", Short: "Show one member", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
				m, err := c.Members().Get(ctx, args[0])
				if err != nil {
					return err
				}
				return g.printMembers(cmd, []client.Member{m}, true)
			})
		}}
	update := &cobra.Command{Use: "update NAME PEER_URL[,PEER_URL...]", Short: "Replace a member's peer URLs (then restart it listening on them)",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			urls := splitList(args[1])
			if len(urls) == 0 {
				return fmt.Errorf("member update %s: no peer URL given", args[0])
			}
			return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
				if err := c.Members().Update(ctx, args[0], urls); err != nil {
					return err
				}
				return g.done(cmd, "member "+args[0]+" updated", map[string]any{"member": args[0], "action": "update", "peerURLs": urls})
			})
		}}
	cmd.AddCommand(
		&cobra.Command{Use: "list", Short: "List the members with status, roles and rack", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					ms, err := c.Members().All(ctx)
					if err != nil {
						return err
					}
					return g.printMembers(cmd, ms, false)
				})
			}},
		get,
		add,
		update,
		byName("promote", "Make a learner (database-standby) a voting member", "promoted", (*client.Members).Promote),
		byName("remove", "Remove a member", "removed", (*client.Members).Remove),
		byName("evacuate", "Move leadership and clients away from a member", "evacuated", (*client.Members).Evacuate),
		byName("restore", "Bring an evacuated member back", "restored", (*client.Members).Restore),
	)
	return cmd
}

// printMembers prints members as a table, or as JSON: a list, or one object when one is true.
func (g *globalFlags) printMembers(cmd *cobra.Command, ms []client.Member, one bool) error {
	if g.output == "json" {
		if one {
			return writeJSON(cmd.OutOrStdout(), ms[0])
		}
		return writeJSON(cmd.OutOrStdout(), ms)
	}
	var rows [][]string
	for _, m := range ms {
		rows = append(rows, []string{m.ServerName, m.ID, m.URL, m.AlternateURL, m.PeerURL, strings.Join(m.Roles, ","),
			strconv.Itoa(m.FailureDomain), m.Status, m.Message})
	}
	return writeTable(cmd.OutOrStdout(), []string{"NAME", "ID", "URL", "ALTERNATE", "PEER URL", "ROLES", "RACK", "STATUS", "MESSAGE"}, rows)
}

func newClusterCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The cluster as the client sees it"}
	cmd.AddCommand(&cobra.Command{Use: "info", Short: "Leader, members and each node's state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.run(cmd, func(ctx context.Context, c *client.Cluster, s *client.Session) error {
				v, err := s.Version(ctx)
				if err != nil {
					return err
				}
				nodes := c.Nodes()
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), struct {
						Leader  string            `json:"leader"`
						Version string            `json:"version"`
						Nodes   []client.NodeInfo `json:"nodes"`
					}{c.Leader(), v.Server, nodes})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "leader: %s\nversion: %s\n\n", c.Leader(), v.Server)
				var rows [][]string
				for _, n := range nodes {
					rows = append(rows, []string{n.Name, n.Address, strconv.Itoa(n.Rack), n.Status,
						strconv.FormatBool(n.Leader), strconv.FormatBool(n.Reachable), n.Err})
				}
				return writeTable(cmd.OutOrStdout(), []string{"NODE", "ADDRESS", "RACK", "STATUS", "LEADER", "REACHABLE", "ERROR"}, rows)
			})
		}})
	return cmd
}

func newHealthCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "health", Short: "Check that a node has a leader and serves a linearizable read", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.run(cmd, func(ctx context.Context, _ *client.Cluster, s *client.Session) error {
				node, err := s.Health(ctx)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"health": true, "node": node})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "healthy (checked on %s)\n", node)
				return nil
			})
		}}
}
