package node

import (
	"context"
	"errors"
	"fmt"
	wire "github.com/cairn-io/cairn/api/quorum"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/internal/quorum"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Member roles in MEMBERS and NODE_ROLE answers, as internal/quorum's README documents them.
// A node cannot see whether another voter is a follower or a candidate right now; "follower"
// names the voter that does not lead, as etcd's member list does.
const (
	roleLeader   = "leader"
	roleFollower = "follower"
	roleLearner  = "learner"
)

// quorumConfig reads the quorum flags before anything is opened, so a bad key file or URL
// fails start without touching the data directory. It returns nil when no key file is set:
// without a key the UDP port stays closed.
func quorumConfig(cfg Config) (*quorum.Config, error) {
	addr := ""
	if cfg.ListenQuorumURL != "" {
		a, err := parseQuorumURL(cfg.ListenQuorumURL)
		if err != nil {
			return nil, fmt.Errorf("--listen-quorum-url: %v", err)
		}
		addr = a
	}
	if cfg.QuorumHMACKeyFile == "" {
		return nil, nil
	}
	key, err := quorum.LoadKey(cfg.QuorumHMACKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--quorum-hmac-key-file: %v", err)
	}
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(wire.DefaultPort))
	}
	return &quorum.Config{ListenAddr: addr, Key: key, Logger: cfg.Logger.With("name", cfg.Name)}, nil
}

// port is the quorum port this member publishes in the cluster view: the one it listens on,
// or 0 when quorum queries are off or the port is left to the kernel (then nobody could be
// told it before the socket is bound).
func quorumPort(c *quorum.Config) int {
	if c == nil {
		return 0
	}
	_, p, err := net.SplitHostPort(c.ListenAddr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// parseQuorumURL accepts udp://host:port (host may be empty for every interface; the port
// defaults to 2381) and returns host:port.
func parseQuorumURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	if u.Scheme != "udp" {
		return "", fmt.Errorf("invalid URL %q: scheme must be udp", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid URL %q: want udp://host:port", raw)
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(wire.DefaultPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("invalid URL %q: port %q is not a number in 0-65535", raw, port)
	}
	hp := net.JoinHostPort(u.Hostname(), port)
	if _, err := net.ResolveUDPAddr("udp", hp); err != nil {
		return "", fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	return hp, nil
}

// nodeQuorum is the node's running quorum server; srv is nil when quorum queries are off.
type nodeQuorum struct {
	srv  *quorum.Server
	done chan struct{} // closed when Serve has returned
}

// startQuorum binds the UDP socket and serves quorum queries from this node's state. qcfg is
// quorumConfig's result; nil means quorum queries are off.
func (n *Node) startQuorum(qcfg *quorum.Config, reg prometheus.Registerer) error {
	if qcfg == nil {
		return nil
	}
	cfg := *qcfg
	cfg.Registerer = reg
	srv, err := quorum.New(cfg, quorumSource{n: n})
	if err != nil {
		return fmt.Errorf("--listen-quorum-url: %v", err)
	}
	n.quorum = nodeQuorum{srv: srv, done: make(chan struct{})}
	go func() {
		defer close(n.quorum.done)
		if err := srv.Serve(context.Background()); err != nil {
			n.log.Error("quorum server stopped", "err", err)
		}
	}()
	n.log.Info("quorum queries served", "addr", srv.Addr().String())
	return nil
}

// stopQuorum closes the UDP socket and waits for the receive loop, so no answer is computed
// from a store whose raft node is shutting down.
func (n *Node) stopQuorum() {
	if n.quorum.srv == nil {
		return
	}
	if err := n.quorum.srv.Close(); err != nil {
		n.log.Warn("closing quorum server", "err", err)
	}
	<-n.quorum.done
}

// QuorumAddr is the bound UDP address of the quorum server (the real port when the URL gave
// port 0); ok is false when quorum queries are off.
func (n *Node) QuorumAddr() (addr netip.AddrPort, ok bool) {
	if n.quorum.srv == nil {
		return netip.AddrPort{}, false
	}
	return n.quorum.srv.Addr(), true
}

// QuorumStats are the quorum server's counters; zero when quorum queries are off.
func (n *Node) QuorumStats() quorum.Stats {
	if n.quorum.srv == nil {
		return quorum.Stats{}
	}
	return n.quorum.srv.Stats()
}

// quorumSource answers the quorum server from the node's local state: serializable reads
// that never touch the leader or the log.
type quorumSource struct{ n *Node }

func (s quorumSource) Name() string { return s.n.cfg.Name }

func (s quorumSource) AppliedIndex() uint64 { return s.n.fsm.AppliedIndex() }

// GetKey reads a key the way a serializable GET does. A directory has no value to compare
// across members, so it is an error naming the key rather than a found empty value.
func (s quorumSource) GetKey(key string) (string, uint64, bool, error) {
	ev, err := s.n.store.Get(key, false, false, time.Now())
	if errors.Is(err, store.ErrKeyNotFound) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	if ev.Node == nil {
		return "", 0, false, fmt.Errorf("%s: no node in the store's answer", key)
	}
	if ev.Node.Dir {
		return "", 0, false, fmt.Errorf("%s is a directory; quorum queries read single keys", key)
	}
	var v string
	if ev.Node.Value != nil {
		v = *ev.Node.Value
	}
	return v, ev.Node.ModifiedIndex, true, nil
}

func (s quorumSource) Leader() (string, string, bool) {
	m, ok := s.n.server.Leader()
	if !ok {
		return "", "", false
	}
	var u string
	if len(m.ClientURLs) > 0 {
		u = m.ClientURLs[0]
	}
	return memberName(m), u, true
}

func (s quorumSource) Members() []quorum.Member {
	leader := s.n.raft.LeaderID()
	ms := s.n.server.Members()
	out := make([]quorum.Member, 0, len(ms))
	for _, m := range ms {
		role := roleFollower
		switch {
		case leader != "" && server.MemberIDString(m.ID) == leader:
			role = roleLeader
		case m.Learner:
			role = roleLearner
		}
		out = append(out, quorum.Member{Name: memberName(m), PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, Role: role})
	}
	return out
}

// memberName is the member's name, or its id until it has published its attributes (a
// member just added and not started yet has no name), so every entry can be told apart.
func memberName(m server.MemberInfo) string {
	if m.Name != "" {
		return m.Name
	}
	return server.MemberIDString(m.ID)
}
