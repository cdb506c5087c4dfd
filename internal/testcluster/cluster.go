package testcluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/test/ports"
)

// Cluster is N in-process nodes.
type Cluster struct {
	t testing.TB
	// Members grows with AddMember; helpers read it under mu, tests from their own goroutine.
	Members []*Member
	mu      sync.Mutex
	net     *network
	opts    options
	logs    *lockedBuffer
	http    *http.Client
}

// Member is one node slot; its node is nil while it is down.
type Member struct {
	Index     int
	Name      string
	ClientURL string
	PeerURL   string
	DataDir   string

	mu   sync.Mutex
	node *node.Node
	cfg  node.Config
}

type options struct {
	electionTimeout time.Duration
	configure       func(i int, c *node.Config)
	tls             *TLS
}

// Option changes how a cluster's nodes are configured.
type Option func(*options)

// WithElectionTimeout sets every node's raft election timeout.
func WithElectionTimeout(d time.Duration) Option { return func(o *options) { o.electionTimeout = d } }

// WithConfig lets a test adjust each node's configuration before it starts. Several apply in
// the order given.
func WithConfig(f func(i int, c *node.Config)) Option {
	return func(o *options) {
		prev := o.configure
		o.configure = func(i int, c *node.Config) {
			if prev != nil {
				prev(i, c)
			}
			f(i, c)
		}
	}
}

// New starts an n-node cluster, waits until it has a leader, and stops it when the test ends.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, net: newNetwork(), logs: &lockedBuffer{}}
	c.opts.electionTimeout = time.Second
	for _, o := range opts {
		o(&c.opts)
	}
	c.http = c.newHTTPClient()
	dir := t.TempDir()
	var initial []string
	clientLns := make([]net.Listener, n)
	peerLns := make([]net.Listener, n)
	for i := 0; i < n; i++ {
		clientLns[i] = mustListen(t, "127.0.0.1:0")
		peerLns[i] = mustListen(t, "127.0.0.1:0")
		m := &Member{Index: i, Name: fmt.Sprintf("n%d", i+1),
			ClientURL: c.clientScheme() + "://" + clientLns[i].Addr().String(),
			PeerURL:   c.peerScheme() + "://" + peerLns[i].Addr().String(),
			DataDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1))}
		c.net.register(peerLns[i].Addr().String(), i)
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("cluster logs (warnings and errors):\n%s", c.logs.String())
		}
	})
	for i, m := range c.Members {
		m.cfg = c.baseConfig(m, strings.Join(initial, ","), "new")
		if c.opts.configure != nil {
			c.opts.configure(i, &m.cfg)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.start(clientLns[i], peerLns[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("starting %s: %v", c.Members[i].Name, err)
		}
	}
	c.WaitLeader(t)
	return c
}

func (c *Cluster) baseConfig(m *Member, initialCluster, state string) node.Config {
	return node.Config{
		Name: m.Name, DataDir: m.DataDir,
		ListenClientURLs: []string{m.ClientURL}, AdvertiseClientURLs: []string{m.ClientURL},
		ListenPeerURLs: []string{m.PeerURL}, InitialAdvertisePeerURLs: []string{m.PeerURL},
		InitialCluster: initialCluster, InitialClusterState: state, InitialClusterToken: "testcluster",
		ElectionTimeout: c.opts.electionTimeout, RequestTimeout: 5 * time.Second,
		Logger:    slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", m.Name),
		PeerDial:  c.net.dialFrom(m.Index),
		ClientTLS: c.opts.tls.clientInfo(), PeerTLS: c.opts.tls.peerInfo(),
		// bcrypt's least cost: a password check takes a millisecond instead of a tenth of a
		// second (far more under the race detector). Production keeps auth.PasswordCost.
		Auth: httpapi.AuthConfig{Verifier: auth.VerifierConfig{PasswordCost: bcryptMinCost}},
	}
}

// bcryptMinCost is golang.org/x/crypto/bcrypt.MinCost.
const bcryptMinCost = 4

func (m *Member) start(clientLn, peerLn net.Listener) error {
	cfg := m.cfg
	cfg.ClientListener, cfg.PeerListener = clientLn, peerLn
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.node = n
	m.mu.Unlock()
	return nil
}

// Node is the running node, or nil while the member is down.
func (m *Member) Node() *node.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.node
}

// Running reports whether the member's node is up.
func (m *Member) Running() bool { return m.Node() != nil }

// IsLeader reports whether the member is up and leads.
func (m *Member) IsLeader() bool {
	n := m.Node()
	return n != nil && n.Raft().IsLeader()
}

// Leader returns the current leader, failing the test when none emerges in time.
func (c *Cluster) WaitLeader(t testing.TB) *Member {
	t.Helper()
	var leader *Member
	CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		leader = nil
		for _, m := range c.Members {
			if m.IsLeader() {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.Name, m.Name)
				}
				leader = m
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	return leader
}

// Followers are the running members that do not lead.
func (c *Cluster) Followers() []*Member {
	var out []*Member
	for _, m := range c.Members {
		if m.Running() && !m.IsLeader() {
			out = append(out, m)
		}
	}
	return out
}

// Partition splits the network: members in different groups cannot reach each other, and a
// member in no group reaches no one. Existing connections across the cut are severed.
func (c *Cluster) Partition(groups ...[]int) { c.net.partition(len(c.Members), groups) }

// Isolate cuts one member off from all others.
func (c *Cluster) Isolate(i int) {
	var rest []int
	for j := range c.Members {
		if j != i {
			rest = append(rest, j)
		}
	}
	c.Partition(rest)
}

// Heal restores full connectivity.
func (c *Cluster) Heal() { c.net.heal() }

// Kill stops a member abruptly: no leadership hand-off, no draining of clients.
func (c *Cluster) Kill(i int) {
	m := c.member(i)
	m.mu.Lock()
	n := m.node
	m.node = nil
	m.mu.Unlock()
	if n != nil {
		n.Kill()
	}
}

// Stop stops a member gracefully, as SIGTERM does.
func (c *Cluster) Stop(i int) error {
	m := c.member(i)
	m.mu.Lock()
	n := m.node
	m.node = nil
	m.mu.Unlock()
	if n == nil {
		return nil
	}
	return n.Stop()
}

// Restart starts a stopped or killed member again on its data directory and ports.
func (c *Cluster) Restart(i int) { c.RestartWith(i, nil) }

// RestartWith restarts a member after change adjusts its configuration (e.g. a recovery flag);
// the change sticks for later restarts.
func (c *Cluster) RestartWith(i int, change func(*node.Config)) {
	c.t.Helper()
	m := c.member(i)
	if change != nil {
		change(&m.cfg)
	}
	if m.Running() {
		c.t.Fatalf("restart %s: still running", m.Name)
	}
	clientLn, err := ports.Listen(hostPort(m.ClientURL), 10*time.Second)
	if err != nil {
		c.t.Fatalf("restart %s: %v", m.Name, err)
	}
	peerLn, err := ports.Listen(hostPort(m.PeerURL), 10*time.Second)
	if err != nil {
		clientLn.Close()
		c.t.Fatalf("restart %s: %v", m.Name, err)
	}
	if err := m.start(clientLn, peerLn); err != nil {
		c.t.Fatalf("restart %s: %v", m.Name, err)
	}
}

// RestartOnNewPeerURL restarts a stopped member with its peer port on a new address, as a
// member rescheduled onto another host comes back; m.PeerURL changes, so only the test's own
// goroutine may call it.
func (c *Cluster) RestartOnNewPeerURL(i int) {
	c.t.Helper()
	m := c.member(i)
	if m.Running() {
		c.t.Fatalf("restart %s: still running", m.Name)
	}
	peerLn := mustListen(c.t, "127.0.0.1:0")
	m.PeerURL = c.peerScheme() + "://" + peerLn.Addr().String()
	c.net.register(peerLn.Addr().String(), i)
	m.cfg.ListenPeerURLs, m.cfg.InitialAdvertisePeerURLs = []string{m.PeerURL}, []string{m.PeerURL}
	entries := strings.Split(m.cfg.InitialCluster, ",")
	for j, e := range entries {
		if strings.HasPrefix(e, m.Name+"=") {
			entries[j] = m.Name + "=" + m.PeerURL
		}
	}
	m.cfg.InitialCluster = strings.Join(entries, ",")
	clientLn, err := ports.Listen(hostPort(m.ClientURL), 10*time.Second)
	if err != nil {
		peerLn.Close()
		c.t.Fatalf("restart %s: %v", m.Name, err)
	}
	if err := m.start(clientLn, peerLn); err != nil {
		c.t.Fatalf("restart %s: %v", m.Name, err)
	}
}

// Close stops every running member.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i := range c.Members {
		wg.Add(1)
		go func() { defer wg.Done(); c.Kill(i) }()
	}
	wg.Wait()
}

func mustListen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// lockedBuffer collects the nodes' logs; it outlives the test's logger, so background
// goroutines that log late never touch a finished testing.T.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// member is Members[i], safe against a concurrent AddMember.
func (c *Cluster) member(i int) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Members[i]
}
