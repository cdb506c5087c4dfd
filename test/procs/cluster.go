package procs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Options shape every node of a cluster.
type Options struct {
	// Args are appended to each node's command line (target-specific flags
	// such as cairnd's --max-value-bytes are the caller's choice).
	Args []string
	// Env is added to each process's environment.
	Env []string
	// StartTimeout bounds Start/WaitHealthy; DefaultStartTimeout when zero.
	StartTimeout time.Duration
	// TLS, when set, puts the nodes on https:// URLs.
	TLS *TLS
}

// TLS makes a cluster's nodes serve https:// client URLs (Client), peer URLs (Peer) or both.
// The certificate flags are the caller's (etcd and cairnd share their names), so a test can
// give each node what it needs; ClientConfig is what the harness's own requests (health,
// stats) use and what Node.HTTPClient returns.
type TLS struct {
	Client, Peer bool
	Args         []string
	ClientConfig *tls.Config
}

// Cluster is a static set of nodes bootstrapped together with
// --initial-cluster. A single node is a cluster of one.
type Cluster struct {
	Nodes []*Node
	Token string

	tb   testing.TB
	base string
	opts Options
}

// NewCluster allocates n nodes (names n1..nN, fresh ports and data dirs)
// without starting them. Every process is killed, and its output tail
// logged on failure, in tb.Cleanup.
func NewCluster(tb testing.TB, n int, opts Options) *Cluster {
	tb.Helper()
	if Binary() == "" {
		tb.Fatal("procs: no server binary; call procs.Main from TestMain")
	}
	c := &Cluster{tb: tb, base: tb.TempDir(), opts: opts,
		Token: fmt.Sprintf("procs-%d", time.Now().UnixNano())}
	for i := 1; i <= n; i++ {
		node, err := newNode(tb, c.base, fmt.Sprintf("n%d", i), opts)
		if err != nil {
			tb.Fatalf("procs: %v", err)
		}
		c.Nodes = append(c.Nodes, node)
		tb.Cleanup(node.cleanup)
	}
	initial := c.initialCluster(c.Nodes)
	for _, node := range c.Nodes {
		node.Args = c.argsFor(node, initial, "new")
	}
	return c
}

// StartCluster allocates and starts n nodes and waits until each is healthy.
func StartCluster(tb testing.TB, n int, opts Options) *Cluster {
	tb.Helper()
	c := NewCluster(tb, n, opts)
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// StartNode starts a one-node cluster and returns its node.
func StartNode(tb testing.TB, opts Options) *Node {
	tb.Helper()
	return StartCluster(tb, 1, opts).Nodes[0]
}

// Start launches every node that is not running, then waits for each to be
// healthy: members of a new cluster only become healthy together.
func (c *Cluster) Start() error {
	for _, n := range c.Nodes {
		if !n.Running() {
			if err := n.Launch(); err != nil {
				return err
			}
		}
	}
	for _, n := range c.Nodes {
		if err := n.WaitHealthy(n.startTimeout); err != nil {
			return err
		}
	}
	return nil
}

// NewMember allocates a node that joins this running cluster: its
// --initial-cluster lists the current nodes plus itself and its state is
// "existing". The caller announces it first (e.g. `etcdctl member add`),
// then calls Start on it.
func (c *Cluster) NewMember(name string) *Node {
	c.tb.Helper()
	node, err := newNode(c.tb, c.base, name, c.opts)
	if err != nil {
		c.tb.Fatalf("procs: %v", err)
	}
	c.tb.Cleanup(node.cleanup)
	all := append(append([]*Node(nil), c.Nodes...), node)
	node.Args = c.argsFor(node, c.initialCluster(all), "existing")
	c.Nodes = all
	return node
}

// ClientURLs lists every node's client URL, in node order.
func (c *Cluster) ClientURLs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.ClientURL())
	}
	return out
}

// Leader returns the one running node whose /v2/stats/self says
// StateLeader. It fails when none or several do (an election in progress).
func (c *Cluster) Leader() (*Node, error) {
	var leaders []*Node
	var errs []error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		ok, err := n.IsLeader()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		if ok {
			leaders = append(leaders, n)
		}
	}
	if len(leaders) == 1 {
		return leaders[0], nil
	}
	return nil, fmt.Errorf("procs: %d leaders among running nodes: %w", len(leaders), errors.Join(errs...))
}

// WaitLeader polls Leader until exactly one running node leads.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := c.Leader()
		if err == nil {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Followers returns the running nodes other than leader.
func (c *Cluster) Followers(leader *Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n != leader && n.Running() {
			out = append(out, n)
		}
	}
	return out
}

func (c *Cluster) initialCluster(nodes []*Node) string {
	var parts []string
	for _, n := range nodes {
		parts = append(parts, n.Name+"="+n.PeerURL())
	}
	return strings.Join(parts, ",")
}

func (c *Cluster) argsFor(n *Node, initial, state string) []string {
	args := []string{
		"--name", n.Name,
		"--data-dir", n.DataDir,
		"--listen-client-urls", n.ClientURL(),
		"--advertise-client-urls", n.ClientURL(),
		"--listen-peer-urls", n.PeerURL(),
		"--initial-advertise-peer-urls", n.PeerURL(),
		"--initial-cluster", initial,
		"--initial-cluster-state", state,
		"--initial-cluster-token", c.Token,
	}
	if IsEtcd() {
		args = append(args, "--enable-v2=true")
	}
	if c.opts.TLS != nil {
		args = append(args, c.opts.TLS.Args...)
	}
	return append(args, c.opts.Args...)
}
