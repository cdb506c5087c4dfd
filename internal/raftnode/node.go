// Package raftnode runs hashicorp/raft for one Cairn node: durable log and
// stable store (bbolt, fsync on every commit), file snapshots, a TCP (or
// TLS) transport sharing the peer port with peer HTTP and the write relay,
// bootstrap and restart, writes with group commit, batched read-index
// reads, membership changes, leadership transfer, the leader's
// per-follower statistics, and handing a follower's raft the commit index
// the leader reported beside raft (commit.go).
//
// It is glue only: it must never make a consensus decision of its own
// (election, commitment, membership safety are raft's), and it never
// interprets log entries (that is internal/fsm).
package raftnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader: this node is not the leader; nothing was proposed.
	// Forward to LeaderAddr().
	ErrNotLeader = errors.New("raftnode: not the leader")
	// ErrNoLeader: no leader can take the request right now (an election or
	// a leadership transfer is under way); nothing was proposed. Retry.
	ErrNoLeader = errors.New("raftnode: no leader")
	// ErrStopped: the node is shut down.
	ErrStopped = errors.New("raftnode: stopped")
	// ErrLeadershipLost: the entry was proposed but leadership was lost
	// before it committed; it may or may not commit later.
	ErrLeadershipLost = errors.New("raftnode: leadership lost, outcome unknown")
)

// Defaults, chosen for loopback and small LANs on small machines: a failed
// leader is detected within HeartbeatTimeout..2x and replaced about one
// ElectionTimeout later (~1-1.5s in all), while a leader only steps down
// after LeaderLeaseTimeout without hearing from a quorum, which leaves
// several heartbeat periods (HeartbeatTimeout/10) of slack under load.
const (
	DefaultHeartbeatTimeout  = 500 * time.Millisecond
	DefaultElectionTimeout   = 500 * time.Millisecond
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 2 * time.Minute
	DefaultTrailingLogs      = 10240

	// maxAppendEntries bounds one AppendEntries RPC and one group-commit
	// batch (BatchApplyCh buffers this many proposals). 128 entries of a
	// few hundred bytes share one fsync; the worst case (128 max-size
	// values) stays a bounded amount of memory per follower.
	maxAppendEntries  = 128
	logCacheSize      = 512
	commitTimeout     = 10 * time.Millisecond
	snapshotsRetained = 2
	transportTimeout  = 10 * time.Second
	transportPool     = 3
)

// Config configures a Node. Zero durations and counts take the defaults above.
type Config struct {
	ID        string
	Dir       string       // holds wal/ (raft log and stable store) and snapshots/
	Listener  net.Listener // the peer port; the Node owns it from New on
	Advertise string       // host:port others dial; default Listener.Addr()
	TLS       *tls.Config  // wraps the peer port (raft, relay and peer HTTP) when set
	// DialTLS is the client side of the connections this node opens to other members (raft
	// and relay); nil uses TLS for both sides.
	DialTLS   *tls.Config
	Bootstrap []raft.Server
	// ForceNewCluster rewrites an existing member's configuration to itself alone
	// (disaster recovery after losing the majority for good).
	ForceNewCluster bool

	SnapshotThreshold uint64
	// StopSnapshotThreshold and StopSnapshotTimeout rule the snapshot a
	// graceful stop takes (snapshot.go).
	StopSnapshotThreshold uint64
	StopSnapshotTimeout   time.Duration
	// WALSegmentSize is the size of one log segment file (0: raft-wal's 64 MiB).
	WALSegmentSize   int
	SnapshotInterval time.Duration
	TrailingLogs     uint64
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration

	// Dial opens outgoing raft connections (default: a net.Dialer). It is
	// the seam for custom networking, e.g. a SOCKS dialer or a test
	// harness that cuts links to simulate partitions.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	Logger *slog.Logger
	FSM    raft.FSM
	// commitTimeout replaces raft's commit timeout (tests only; 0: commitTimeout).
	commitTimeout time.Duration
	// AppliedIndex is the FSM's applied index (fsm.FSM.AppliedIndex). The
	// read index is clamped to the last command entry the FSM will see
	// (raft's no-op, barrier and configuration entries never reach it), so
	// that waiting for it cannot hang.
	AppliedIndex func() uint64
	// OnLeadership is called with true once this node is leader AND an
	// entry of its term has committed and applied (its state is current),
	// and with false when it stops being leader. Calls are serialised and
	// must not block for long.
	OnLeadership func(leader bool)
	// Metrics is where the node counts what it observes (nil: an unregistered set).
	Metrics *metrics.Set
}

// Node is one raft member.
type Node struct {
	cfg     Config
	log     *slog.Logger
	raft    *raft.Raft
	trans   *statsTransport
	mux     *peerMux
	bolt    *walStore
	logs    raft.LogStore
	appends *countingLogStore
	snaps   *snapshotStore
	// snapKick wakes snapshotWhenDue once the snapshot threshold is crossed.
	snapKick chan struct{}

	// Writes applied since the start, and as of the newest snapshot and the last capture
	// (snapshot.go): the snapshot thresholds count writes.
	writesApplied, writesAtSnapshot, writesCaptured atomic.Uint64
	capturedAt                                      [2]uint64 // writes and entries at the last capture; FSM goroutine only
	// started is raft once NewRaft has returned, for the FSM goroutine's hooks.
	started atomic.Pointer[raft.Raft]

	learn *commitLearner

	verify verifier

	leaderMu  sync.Mutex // serialises leadership transitions and OnLeadership
	leaderGen uint64     // bumped on every transition; stale barriers are ignored
	reported  bool       // OnLeadership(true) was delivered last
	readyTerm atomic.Uint64
	readyCh   atomic.Pointer[chan struct{}] // closed and replaced on every readiness change (leaderMu)
	// readyWaiters counts reads waiting for readiness (Stats: "read_waiting_ready").
	readyWaiters atomic.Int32

	notifyCh     chan bool
	stopCh       chan struct{}
	wg           sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error
}

// New opens (or creates) the node's state in cfg.Dir, bootstraps a new
// cluster only when there is no state yet and cfg.Bootstrap is given, and
// starts raft. On error everything opened is closed again, cfg.Listener included.
func New(cfg Config) (n *Node, err error) {
	if cfg.ID == "" || cfg.Dir == "" || cfg.Listener == nil || cfg.FSM == nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return nil, errors.New("raftnode: ID, Dir, Listener and FSM are required")
	}
	applyDefaults(&cfg)
	n = &Node{cfg: cfg, log: cfg.Logger.With("raft_id", cfg.ID), notifyCh: make(chan bool, 8), stopCh: make(chan struct{}),
		snapKick: make(chan struct{}, 1)}
	ch := make(chan struct{})
	n.readyCh.Store(&ch)

	n.mux = newPeerMux(cfg.Listener, cfg.TLS)
	self := n // a failing return sets the named result n to nil before this runs
	defer func() {
		if err != nil {
			n := self
			if n.raft != nil {
				_ = n.raft.Shutdown().Error()
			}
			_ = n.mux.Close()
			if n.bolt != nil {
				_ = n.bolt.Close()
			}
		}
	}()

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	// NoSync stays false: every StoreLogs is fsynced before raft counts
	// the entry as persisted, so an acknowledged write survives a crash.
	if _, err := os.Stat(filepath.Join(cfg.Dir, "raft.db")); err == nil {
		return nil, fmt.Errorf("raftnode: %s holds a raft log in the bbolt format of earlier development builds; this build keeps its log in %s (raft-wal); start from an empty data directory",
			cfg.Dir, filepath.Join(cfg.Dir, "wal"))
	}
	walDir := filepath.Join(cfg.Dir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	// raft-wal fsyncs every StoreLogs before returning, so an entry raft counts as persisted
	// survives a crash; one append and one fsync per batch, unlike a B+tree commit.
	n.bolt, err = openWAL(walDir, newHCLog(n.log, "wal"), cfg.WALSegmentSize)
	if err != nil {
		return nil, fmt.Errorf("raftnode: open log store: %w", err)
	}
	cache, err := raft.NewLogCache(logCacheSize, n.bolt)
	if err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	n.learn = newCommitLearner()
	n.appends = &countingLogStore{LogStore: cache, stored: n.learn.logStored, m: cfg.Metrics}
	n.logs = n.appends
	hlog := newHCLog(n.log, "raft")
	files, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, hlog.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	if n.snaps, err = newSnapshotStore(&measuredSnapshots{SnapshotStore: files, m: cfg.Metrics}); err != nil {
		return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	snaps := n.snaps
	if err := dropLogBehindSnapshot(n.logs, snaps.last.Load(), n.log); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	snaps.onClose = n.noteStored
	fsm := newCountingFSM(cfg.FSM, n.noteApplied, n.noteCaptured, n.noteRestored)

	advertise := net.Addr(advertiseAddr(cfg.Advertise))
	if cfg.Advertise == "" {
		advertise = cfg.Listener.Addr()
	}
	stream := &streamLayer{muxView: n.mux.raft, advertise: advertise, tls: cfg.dialTLS(), dial: cfg.Dial}
	n.trans = newStatsTransport(cfg.Metrics, raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: transportPool,
		Timeout: transportTimeout,
		Logger:  hlog.Named("transport"),
	}))

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout * 3 / 4
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = maxAppendEntries
	rc.BatchApplyCh = true // concurrent proposals share one StoreLogs, i.e. one fsync
	// Followers learn the commit index from the next AppendEntries; with raft's 50 ms default a
	// follower would serve a linearizable read or a watch event up to 50 ms late when writes are
	// sparse. 10 ms bounds that lag at the cost of ~100 empty RPCs/s per idle follower.
	rc.CommitTimeout = commitTimeout
	if cfg.commitTimeout > 0 {
		rc.CommitTimeout = cfg.commitTimeout
	}
	rc.NotifyCh = n.notifyCh
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}

	existing, err := raft.HasExistingState(n.logs, n.bolt, snaps)
	if err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	if existing && cfg.ForceNewCluster {
		// Disaster recovery: keep this member's data and make it the only voter. raft replays
		// the log into the FSM, snapshots it, and truncates the log behind the new configuration.
		only := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(advertise.String())}}}
		if err := raft.RecoverCluster(rc, fsm, n.logs, n.bolt, snaps, n.trans, only); err != nil {
			return nil, fmt.Errorf("raftnode: force new cluster: %w", err)
		}
		n.log.Warn("forced a new one-member cluster from this member's data", "id", cfg.ID)
	}
	if !existing && len(cfg.Bootstrap) > 0 {
		if err := raft.BootstrapCluster(rc, n.logs, n.bolt, snaps, n.trans,
			raft.Configuration{Servers: cfg.Bootstrap}); err != nil {
			return nil, fmt.Errorf("raftnode: bootstrap: %w", err)
		}
	}

	n.raft, err = raft.NewRaft(rc, fsm, n.logs, n.bolt, snaps, n.trans)
	n.started.Store(n.raft)
	if err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	n.verify.confirm = n.confirmLeadership
	n.verify.m = cfg.Metrics
	n.wg.Add(4)
	go n.watchLeadership()
	go n.countLeaderChanges()
	go n.snapshotWhenDue()
	go n.learnLoop()
	n.log.Info("raft started", "advertise", advertise.String(), "existing_state", existing,
		"bootstrap", !existing && len(cfg.Bootstrap) > 0)
	return n, nil
}

func applyDefaults(c *Config) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.StopSnapshotThreshold == 0 {
		c.StopSnapshotThreshold = DefaultStopSnapshotThreshold
	}
	if c.StopSnapshotTimeout == 0 {
		c.StopSnapshotTimeout = DefaultStopSnapshotTimeout
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
}

// PeerHTTPListener yields the peer port's non-raft connections, for an
// http.Server run by the caller. With Config.TLS the TLS layer is already
// removed (client certificates were checked by that config).
func (n *Node) PeerHTTPListener() net.Listener { return n.mux.http }

// RelayListener yields the peer port's write-relay connections (marker byte
// already consumed, TLS removed as for PeerHTTPListener).
func (n *Node) RelayListener() net.Listener { return n.mux.relay }

// DialRelay opens a write-relay connection to the member whose peer port is
// at addr (host:port), through Config.Dial and Config.DialTLS like raft's own
// connections. The deadline of ctx bounds the dial and the TLS handshake's
// first write.
func (n *Node) DialRelay(ctx context.Context, addr string) (net.Conn, error) {
	return dialMarked(ctx, n.cfg.Dial, n.cfg.dialTLS(), addr, relayMarker)
}

func (c *Config) dialTLS() *tls.Config {
	if c.DialTLS != nil {
		return c.DialTLS
	}
	return c.TLS
}

// Apply proposes cmd and waits until it is committed and applied, returning
// the FSM's response and the entry's index. Only the leader proposes.
// Concurrent calls are batched by raft into one log append and one fsync.
// If ctx ends first the entry may still commit.
func (n *Node) Apply(ctx context.Context, cmd []byte) (interface{}, uint64, error) {
	return n.ApplyProposals(ctx, cmd, 1)
}

// ApplyProposals is Apply for an entry that carries proposals client requests (a batch of
// them, or one): the pending-proposals gauge and the failed-proposals counter count requests,
// as etcd's do, not entries.
func (n *Node) ApplyProposals(ctx context.Context, cmd []byte, proposals int) (interface{}, uint64, error) {
	if n.stopped() {
		return nil, 0, ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return nil, 0, ErrNotLeader
	}
	var enqueue time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if enqueue = time.Until(dl); enqueue <= 0 {
			return nil, 0, context.DeadlineExceeded
		}
	}
	n.cfg.Metrics.ProposalsPending.Add(float64(proposals))
	f := n.raft.Apply(cmd, enqueue)
	err := n.await(ctx, f)
	n.cfg.Metrics.ProposalsPending.Sub(float64(proposals))
	if err != nil {
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrStopped) {
			n.cfg.Metrics.ProposalsFailed.Add(float64(proposals))
		}
		return nil, 0, err
	}
	return f.Response(), f.Index(), nil
}

// await waits for f within ctx and maps raft's errors to ours. It also
// gives up when the node stops: with BatchApplyCh, a proposal still queued
// in raft's apply channel at shutdown is never answered.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return mapErr(err)
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopCh:
		return ErrStopped
	}
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrLeadershipLost
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Refused before anything was appended: like a follower's refusal, the caller may
		// send it to the leader that the transfer produces.
		return ErrNotLeader
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrStopped
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("raftnode: %w: %w", context.DeadlineExceeded, err)
	}
	return err
}

func (n *Node) stopped() bool {
	select {
	case <-n.stopCh:
		return true
	default:
		return false
	}
}

// IsLeader reports whether raft considers this node the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderID is the current leader's server ID ("" if unknown).
func (n *Node) LeaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// LeaderAddr is the current leader's peer address ("" if unknown). Since
// the peer port also serves peer HTTP, it is where to forward writes too.
func (n *Node) LeaderAddr() string {
	addr, _ := n.raft.LeaderWithID()
	return string(addr)
}

// Term is raft's current term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// CommitIndex is the latest index known committed.
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// LastIndex is the last index in the log (or snapshot).
func (n *Node) LastIndex() uint64 { return n.raft.LastIndex() }

// AppliedIndex is the FSM's applied index when Config.AppliedIndex is set,
// else raft's (which counts entries handed to the FSM, possibly not yet applied).
func (n *Node) AppliedIndex() uint64 {
	if n.cfg.AppliedIndex != nil {
		return n.cfg.AppliedIndex()
	}
	return n.raft.AppliedIndex()
}

// ID is this node's server ID.
func (n *Node) ID() string { return n.cfg.ID }

// Addr is the address this node advertises to its peers.
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// Stats is raft's own statistics plus ours: confirmation rounds of the read
// index, the term it is ready for, and log appends (fsyncs) vs. entries.
func (n *Node) Stats() map[string]string {
	s := n.raft.Stats()
	s["log_appends"] = fmt.Sprint(n.appends.appends.Load())
	s["log_entries_appended"] = fmt.Sprint(n.appends.entries.Load())
	s["verify_rounds"] = fmt.Sprint(n.verify.rounds.Load())
	s["read_ready_term"] = fmt.Sprint(n.readyTerm.Load())
	s["read_waiting_ready"] = fmt.Sprint(n.readyWaiters.Load())
	return s
}

// FollowerStats returns, on the leader, the statistics of each other member
// since this node became leader, keyed by server ID; nil on a follower.
func (n *Node) FollowerStats() map[string]FollowerStats {
	if !n.IsLeader() {
		return nil
	}
	servers, err := n.Servers()
	if err != nil {
		return nil
	}
	measured := n.trans.followerStats()
	out := make(map[string]FollowerStats, len(servers))
	for _, s := range servers {
		if string(s.ID) != n.cfg.ID {
			out[string(s.ID)] = measured[s.ID]
		}
	}
	return out
}

// Snapshot asks raft for a snapshot now (operators, tests).
func (n *Node) Snapshot() error { return n.await(context.Background(), n.raft.Snapshot()) }

// Traffic is this node's AppendEntries traffic for /v2/stats/self.
func (n *Node) Traffic() TrafficStats { return n.trans.traffic() }
