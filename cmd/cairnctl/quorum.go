package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cairn-io/cairn/client"
	cquorum "github.com/cairn-io/cairn/client/quorum"
	"github.com/spf13/cobra"
)

type quorumFlags struct {
	keyFile string
	peers   string
	port    int
}

// newQuorumCommand is `cairnctl quorum`: signed UDP queries answered by several members at
// once, trusted only when a safe number reply (client/quorum). It needs neither the leader nor
// the raft log, so it works for bootstrap scripts and monitoring where HTTP reads would not.
func newQuorumCommand(g *globalFlags) *cobra.Command {
	f := &quorumFlags{}
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Ask several members at once over UDP and print the answer a safe number agree on",
		Long: `Quorum queries are small read-only questions signed with the cluster's shared HMAC key
and sent over UDP to several members at once. An answer is printed only once enough members
replied (all of 1-2, all but one of 3-4, a majority of 5 or more), taking the one with the
highest raft index, so one stale member cannot mislead.

Peers are --quorum-peers when given. Otherwise cairnctl connects as every other command does
(--endpoints, --hosts or --discovery-srv; --cluster-name; TLS) and asks each member at the
quorum port it publishes in the cluster view, on the host of its client URL, or of its
alternate client URL with --services-alternate. No port is assumed: a member that publishes
none (quorum queries off) is not asked.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.keyFile, "quorum-hmac-key-file", "", "file holding the cluster's shared quorum HMAC key (required)")
	pf.StringVar(&f.peers, "quorum-peers", "", "quorum UDP addresses host[:port],... to ask instead of the members the cluster lists")
	pf.IntVar(&f.port, "quorum-port", cquorum.DefaultPort, "UDP port of --quorum-peers given without one")
	annotateEnv(pf)

	run := func(typ cquorum.QueryType, q func(args []string) string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error { return f.run(c, g, typ, q(args)) }
	}
	none := func([]string) string { return "" }
	cmd.AddCommand(
		&cobra.Command{Use: "ping", Short: "Check that enough members answer", Args: cobra.NoArgs,
			RunE: run(cquorum.QueryPing, none)},
		&cobra.Command{Use: "get KEY", Short: "Read a key's value and modifiedIndex", Args: cobra.ExactArgs(1),
			RunE: run(cquorum.QueryKey, func(args []string) string {
				if !strings.HasPrefix(args[0], "/") {
					return "/" + args[0]
				}
				return args[0]
			})},
		&cobra.Command{Use: "leader", Short: "Show the leader", Args: cobra.NoArgs,
			RunE: run(cquorum.QueryLeader, none)},
		&cobra.Command{Use: "members", Short: "List the members with their roles", Args: cobra.NoArgs,
			RunE: run(cquorum.QueryMembers, none)},
	)
	return cmd
}

func (f *quorumFlags) run(cmd *cobra.Command, g *globalFlags, typ cquorum.QueryType, q string) error {
	key, err := cquorum.LoadKey(f.keyFile)
	if err != nil {
		return fmt.Errorf("--quorum-hmac-key-file: %w", err)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	peers, err := f.quorumPeers(ctx, cmd, g)
	if err != nil {
		return err
	}
	c, err := cquorum.NewClient(key, peers, nil, cquorum.WithDefaultPort(f.port), cquorum.WithExpiry(g.timeout))
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Query(ctx, cquorum.Request{Type: typ, Query: q})
	if err != nil {
		return err
	}
	return printReply(cmd.OutOrStdout(), g.output, typ, r)
}

// quorumPeers are the addresses to ask: --quorum-peers as given, or every member of the
// cluster view that publishes a quorum port, so that the client, not a single seed, decides
// how many replies are safe.
func (f *quorumFlags) quorumPeers(ctx context.Context, cmd *cobra.Command, g *globalFlags) ([]string, error) {
	if f.peers != "" {
		return splitList(f.peers), nil
	}
	c, err := g.connect(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot list the members (give --quorum-peers to skip that): %w", err)
	}
	defer c.Close()
	ms, err := c.Members().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list the members (give --quorum-peers to skip that): %w", err)
	}
	return quorumAddrs(ms, g.alternate)
}

// quorumAddrs are the members' quorum addresses: each member's published quorum port on the
// host of the client URL this client uses (the alternate one when alternate is set).
func quorumAddrs(ms []client.Member, alternate bool) ([]string, error) {
	var peers, off []string
	for _, m := range ms {
		raw, which := m.URL, "client URL"
		if alternate {
			raw, which = m.AlternateURL, "alternate client URL"
		}
		if m.QuorumPort == 0 {
			off = append(off, m.ServerName)
			continue
		}
		if raw == "" {
			return nil, fmt.Errorf("member %s publishes no %s to reach its quorum port at", m.ServerName, which)
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("member %s has %s %q", m.ServerName, which, raw)
		}
		peers = append(peers, net.JoinHostPort(u.Hostname(), strconv.Itoa(m.QuorumPort)))
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("no member publishes a quorum port (members %s serve no quorum queries: started without --quorum-hmac-key-file?)",
			strings.Join(off, ", "))
	}
	return peers, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// quorumOutput is the JSON form: the chosen reply with its answer decoded.
type quorumOutput struct {
	Node   string          `json:"node"`
	Index  uint64          `json:"index"`
	Answer json.RawMessage `json:"answer"`
}

func printReply(w io.Writer, format string, typ cquorum.QueryType, r cquorum.Reply) error {
	// A missing key or an unknown leader is a failure for scripts in either format.
	switch typ {
	case cquorum.QueryKey:
		var a cquorum.KeyAnswer
		if err := r.Decode(&a); err != nil {
			return err
		}
		if !a.Found {
			return fmt.Errorf("%s: key not found (index %d, answered by %s)", a.Key, r.Index, r.Node)
		}
	case cquorum.QueryLeader:
		var a cquorum.LeaderAnswer
		if err := r.Decode(&a); err != nil {
			return err
		}
		if !a.Known {
			return fmt.Errorf("no leader known (index %d, answered by %s)", r.Index, r.Node)
		}
	}
	if format == "json" {
		b, err := json.MarshalIndent(quorumOutput{Node: r.Node, Index: r.Index, Answer: json.RawMessage(r.Answer)}, "", "  ")
		if err != nil {
			return fmt.Errorf("member %s sent an answer that is not JSON: %v", r.Node, err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch typ {
	case cquorum.QueryPing:
		fmt.Fprintf(tw, "ANSWERED BY\tINDEX\n%s\t%d\n", r.Node, r.Index)
	case cquorum.QueryKey:
		var a cquorum.KeyAnswer
		if err := r.Decode(&a); err != nil {
			return err
		}
		fmt.Fprintf(tw, "KEY\tVALUE\tMODIFIED INDEX\tINDEX\tANSWERED BY\n%s\t%s\t%d\t%d\t%s\n", a.Key, a.Value, a.ModifiedIndex, r.Index, r.Node)
	case cquorum.QueryLeader:
		var a cquorum.LeaderAnswer
		if err := r.Decode(&a); err != nil {
			return err
		}
		fmt.Fprintf(tw, "LEADER\tURL\tINDEX\tANSWERED BY\n%s\t%s\t%d\t%s\n", a.Name, a.URL, r.Index, r.Node)
	case cquorum.QueryMembers:
		var ms []cquorum.Member
		if err := r.Decode(&ms); err != nil {
			return err
		}
		fmt.Fprintf(tw, "NAME\tROLE\tPEER URLS\tCLIENT URLS\n")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Role, strings.Join(m.PeerURLs, ","), strings.Join(m.ClientURLs, ","))
		}
	}
	return tw.Flush()
}
