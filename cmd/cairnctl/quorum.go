package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cairn-io/cairn/api"
	cquorum "github.com/cairn-io/cairn/client/quorum"
	"github.com/spf13/cobra"
)

type quorumFlags struct {
	keyFile string
	hosts   string
	peers   string
	port    int
	output  string
	timeout time.Duration
	// httpc and scheme list the members: TLS when cairnctl's TLS flags say so.
	httpc  *http.Client
	scheme string
}

// newQuorumCommand is `cairnctl quorum`: signed UDP queries answered by several members at
// once, trusted only when a safe number reply (client/quorum). It needs neither the leader nor
// the raft log, so it works for bootstrap scripts and monitoring where HTTP reads would not.
func newQuorumCommand() *cobra.Command {
	f := &quorumFlags{}
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Ask several members at once over UDP and print the answer a safe number agree on",
		Long: `Quorum queries are small read-only questions signed with the cluster's shared HMAC key
and sent over UDP to several members at once. An answer is printed only once enough members
replied (all of 1-2, all but one of 3-4, a majority of 5 or more), taking the one with the
highest raft index, so one stale member cannot mislead.

Peers are --quorum-peers when given; otherwise the members listed by the cluster (GET
/v2/members on one of --hosts), each at its client host and --quorum-port.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.keyFile, "quorum-hmac-key-file", "", "file holding the cluster's shared quorum HMAC key (required)")
	pf.StringVar(&f.hosts, "hosts", "127.0.0.1:2379", "client endpoints host[:port],... used to discover the members")
	pf.StringVar(&f.peers, "quorum-peers", "", "quorum UDP addresses host[:port],... to ask instead of discovering the members")
	pf.IntVar(&f.port, "quorum-port", cquorum.DefaultPort, "UDP port of members given or discovered without one")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for enough replies")

	cmd.AddCommand(
		&cobra.Command{Use: "ping", Short: "Check that enough members answer", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error { return f.run(c, cquorum.QueryPing, "") }},
		&cobra.Command{Use: "get KEY", Short: "Read a key's value and modifiedIndex", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				key := args[0]
				if !strings.HasPrefix(key, "/") {
					key = "/" + key
				}
				return f.run(c, cquorum.QueryKey, key)
			}},
		&cobra.Command{Use: "leader", Short: "Show the leader", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error { return f.run(c, cquorum.QueryLeader, "") }},
		&cobra.Command{Use: "members", Short: "List the members with their roles", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error { return f.run(c, cquorum.QueryMembers, "") }},
	)
	return cmd
}

func (f *quorumFlags) run(cmd *cobra.Command, typ cquorum.QueryType, q string) error {
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("-o must be table or json, not %q", f.output)
	}
	key, err := cquorum.LoadKey(f.keyFile)
	if err != nil {
		return fmt.Errorf("--quorum-hmac-key-file: %w", err)
	}
	if f.httpc, f.scheme, err = discoveryClient(cmd.Flags()); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	peers, err := f.quorumPeers(ctx)
	if err != nil {
		return err
	}
	c, err := cquorum.NewClient(key, peers, nil, cquorum.WithDefaultPort(f.port), cquorum.WithExpiry(f.timeout))
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Query(ctx, cquorum.Request{Type: typ, Query: q})
	if err != nil {
		return err
	}
	return printReply(cmd.OutOrStdout(), f.output, typ, r)
}

// quorumPeers are the addresses to ask: --quorum-peers as given, or every member the cluster
// lists, so that the client, not a single seed, decides how many replies are safe.
func (f *quorumFlags) quorumPeers(ctx context.Context) ([]string, error) {
	if f.peers != "" {
		return splitList(f.peers), nil
	}
	var errs []error
	for _, h := range splitList(f.hosts) {
		hc, scheme := f.httpc, f.scheme
		if hc == nil {
			hc, scheme = http.DefaultClient, "http"
		}
		peers, err := discoverPeers(ctx, hc, scheme, h, f.port)
		if err == nil {
			return peers, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("cannot list the members from --hosts %s (give --quorum-peers to skip discovery): %w",
		f.hosts, errors.Join(errs...))
}

// discoverPeers lists the members through one client endpoint (scheme:// unless host has
// one) and returns each member's client host at the quorum port.
func discoverPeers(ctx context.Context, hc *http.Client, scheme, host string, port int) ([]string, error) {
	base := host
	if !strings.Contains(base, "://") {
		base = scheme + "://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("host %q: %v", host, err)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "2379")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+"/v2/members", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	var ms api.Members
	if err := json.Unmarshal(body, &ms); err != nil {
		return nil, fmt.Errorf("%s: %v", req.URL, err)
	}
	var peers []string
	for _, m := range ms.Members {
		if len(m.ClientURLs) == 0 {
			continue // added but not started yet: nothing to ask
		}
		cu, err := url.Parse(m.ClientURLs[0])
		if err != nil || cu.Hostname() == "" {
			return nil, fmt.Errorf("member %s has client URL %q", m.Name, m.ClientURLs[0])
		}
		peers = append(peers, net.JoinHostPort(cu.Hostname(), strconv.Itoa(port)))
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("%s lists no member with a client URL", req.URL)
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
