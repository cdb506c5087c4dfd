package raftnode

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/test/ports"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuf collects the nodes' logs; they are printed only when a test fails.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// netCut cuts links between nodes through Config.Dial: every raft
// connection is dialed by one of the two nodes, so refusing the dial and
// closing the dialed connections severs a link in both directions.
type netCut struct {
	mu      sync.Mutex
	owner   map[string]string // address -> node ID
	blocked map[[2]string]bool
	conns   map[[2]string][]net.Conn
}

func newNetCut() *netCut {
	return &netCut{owner: map[string]string{}, blocked: map[[2]string]bool{}, conns: map[[2]string][]net.Conn{}}
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (c *netCut) dialer(from string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.mu.Lock()
		p := pair(from, c.owner[addr])
		blocked := c.blocked[p]
		c.mu.Unlock()
		if blocked {
			return nil, fmt.Errorf("netCut: %s is cut off from %s", from, addr)
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.blocked[p] {
			_ = conn.Close()
			return nil, fmt.Errorf("netCut: %s is cut off from %s", from, addr)
		}
		c.conns[p] = append(c.conns[p], conn)
		return conn, nil
	}
}

// isolate cuts id off from every other node.
func (c *netCut) isolate(id string, others ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range others {
		p := pair(id, o)
		c.blocked[p] = true
		for _, conn := range c.conns[p] {
			_ = conn.Close()
		}
		delete(c.conns, p)
	}
}

func (c *netCut) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocked = map[[2]string]bool{}
}

type tnode struct {
	id, dir, addr string
	n             *Node
	f             *fsm.FSM
	leadership    chan bool
}

type cluster struct {
	t     *testing.T
	cut   *netCut
	logs  *syncBuf
	nodes map[string]*tnode
	tune  func(*Config)
}

// newCluster starts len(ids) nodes bootstrapped as voters of one cluster.
func newCluster(t *testing.T, ids []string, tune func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, cut: newNetCut(), logs: &syncBuf{}, nodes: map[string]*tnode{}, tune: tune}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.n != nil {
				_ = n.n.Shutdown()
			}
		}
		if t.Failed() {
			t.Log("node logs:\n" + c.logs.String())
		}
	})
	var servers []raft.Server
	lns := map[string]net.Listener{}
	for _, id := range ids {
		ln := c.listen(id, "127.0.0.1:0")
		lns[id] = ln
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(ln.Addr().String()), Suffrage: raft.Voter})
	}
	for _, id := range ids {
		c.startOn(id, lns[id], servers)
	}
	return c
}

func (c *cluster) listen(id, addr string) net.Listener {
	c.t.Helper()
	// A restart binds the address it had; another test's socket may hold it a moment.
	ln, err := ports.Listen(addr, 10*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	n := c.nodes[id]
	if n == nil {
		n = &tnode{id: id, dir: c.t.TempDir()}
		c.nodes[id] = n
	}
	n.addr = ln.Addr().String()
	c.cut.mu.Lock()
	c.cut.owner[n.addr] = id
	c.cut.mu.Unlock()
	return ln
}

// add starts a fresh node that is not part of any configuration yet.
func (c *cluster) add(id string) *tnode {
	c.startOn(id, c.listen(id, "127.0.0.1:0"), nil)
	return c.nodes[id]
}

// restart starts a stopped node again on its address and data directory.
func (c *cluster) restart(id string) *tnode {
	n := c.nodes[id]
	c.startOn(id, c.listen(id, n.addr), nil)
	return n
}

func (c *cluster) startOn(id string, ln net.Listener, bootstrap []raft.Server) {
	c.t.Helper()
	n := c.nodes[id]
	n.f = fsm.New(store.New())
	n.leadership = make(chan bool, 64)
	cfg := Config{
		ID:           id,
		Dir:          n.dir,
		Listener:     ln,
		Bootstrap:    bootstrap,
		Dial:         c.cut.dialer(id),
		Logger:       slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id),
		FSM:          n.f,
		AppliedIndex: n.f.AppliedIndex,
		OnLeadership: func(leader bool) { n.leadership <- leader },
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	n.n = node
}

func (c *cluster) stop(id string) {
	c.t.Helper()
	n := c.nodes[id]
	if err := n.n.Shutdown(); err != nil {
		c.t.Fatalf("shutdown %s: %v", id, err)
	}
	n.n = nil
}

// leader waits for a leader among the running nodes (except those in
// exclude) that has finished its own-term barrier, i.e. serves reads.
func (c *cluster) leader(exclude ...string) *tnode {
	c.t.Helper()
	var found *tnode
	waitFor(c.t, 10*time.Second, "a ready leader", func() bool {
	next:
		for id, n := range c.nodes {
			for _, x := range exclude {
				if id == x {
					continue next
				}
			}
			if n.n != nil && n.n.IsLeader() && n.n.readyTerm.Load() == n.n.Term() {
				found = n
				return true
			}
		}
		return false
	})
	return found
}

func (c *cluster) others(id string) []string {
	var out []string
	for o := range c.nodes {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}

func put(t *testing.T, n *tnode, key, value string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, idx, err := n.n.Apply(ctx, (&fsm.Command{Type: fsm.CmdPut, Key: key, Value: value, Time: time.Now().UnixNano()}).Marshal())
	if err != nil {
		t.Fatalf("put %s on %s: %v", key, n.id, err)
	}
	if r := resp.(*fsm.Result); r.Err != nil {
		t.Fatalf("put %s: %v", key, r.Err)
	}
	return idx
}

func value(n *tnode, key string) (string, bool) {
	ev, err := n.f.Store().Get(key, false, false, time.Now())
	if err != nil || ev.Node.Value == nil {
		return "", false
	}
	return *ev.Node.Value, true
}

// linearRead performs a read-index read on n and returns the value it serves.
func linearRead(ctx context.Context, n *tnode, key string) (string, error) {
	idx, err := n.n.ReadIndex(ctx)
	if err != nil {
		return "", err
	}
	if err := n.f.WaitApplied(ctx, idx); err != nil {
		return "", err
	}
	v, _ := value(n, key)
	return v, nil
}
