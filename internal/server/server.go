package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/store"
)

// Config describes this node to the server logic.
type Config struct {
	Name       string
	MemberID   uint64
	ClusterID  uint64
	PeerURLs   []string
	ClientURLs []string
	// PeerScheme is "http" or "https": raft addresses carry host:port only.
	PeerScheme string
	// PeerClient reaches other members' peer ports (its transport carries the peer TLS).
	PeerClient *http.Client
	// RequestTimeout bounds one read-index round trip to the leader.
	RequestTimeout time.Duration
	// ReadIndexer, when set, carries a follower's read-index requests to the leader; PeerClient
	// remains for leaders that do not take them that way.
	ReadIndexer ReadIndexer
	// CommitWaiter, when set, brings a follower the leader's commit index as soon as the leader
	// applies a write (commit.go).
	CommitWaiter CommitWaiter
	// ExpiryInterval is the longest the leader waits between two looks at the TTL heap.
	ExpiryInterval time.Duration
	Logger         *slog.Logger

	// The cluster view for smart clients (cluster.go): the name clients check, this member's
	// rack, its client URLs for clients on other networks, and how long the leader may go
	// without hearing from a member before calling it Offline (0: 2s).
	ClusterName         string
	Rack                int
	AlternateClientURLs []string
	OfflineAfter        time.Duration
	// QuorumPort is the UDP port this member answers quorum queries on (0: none), published
	// with its other attributes so that clients find it in the cluster view.
	QuorumPort int
	// VersionCheckInterval is how often the leader reads the members' levels while the
	// cluster's is below its own (version.go; 0: 2s).
	VersionCheckInterval time.Duration
}

// Server is one node's logic.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	fsm   *fsm.FSM
	raft  *raftnode.Node
	start time.Time

	mu          sync.Mutex
	leaderSince time.Time
	lastLeader  string

	live liveness

	// levelMu orders raising the cluster's level against adding members (version.go).
	levelMu sync.Mutex

	reads  readBatcher
	writes writeBatcher

	stop chan struct{}
	wg   sync.WaitGroup
	// ready is closed once this node's own member entry is committed; clients are not served
	// before, as etcd does, so no client ever sees this member without its name and URLs.
	ready     chan struct{}
	readyOnce sync.Once
}

// New wires the server over an FSM and a started raft node.
func New(cfg Config, f *fsm.FSM, rn *raftnode.Node) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.ExpiryInterval == 0 {
		cfg.ExpiryInterval = 100 * time.Millisecond
	}
	if cfg.PeerClient == nil {
		cfg.PeerClient = &http.Client{}
	}
	if cfg.PeerScheme == "" {
		cfg.PeerScheme = "http"
	}
	if cfg.OfflineAfter == 0 {
		cfg.OfflineAfter = 2 * time.Second
	}
	if cfg.VersionCheckInterval == 0 {
		cfg.VersionCheckInterval = 2 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: f.Store(), fsm: f, raft: rn,
		start: time.Now(), stop: make(chan struct{}), ready: make(chan struct{})}
	s.reads = readBatcher{fetch: s.fetchReadIndex, timeout: cfg.RequestTimeout}
	s.writes = writeBatcher{apply: s.applyEntry, batches: s.batchesAllowed, timeout: cfg.RequestTimeout}
	return s
}

// Run starts the background loops: TTL expiry (on the leader) and publishing this node's
// attributes. Stop ends them.
func (s *Server) Run() {
	s.wg.Add(5)
	go func() { defer s.wg.Done(); s.versionLoop() }()
	go func() { defer s.wg.Done(); s.expiryLoop() }()
	go func() { defer s.wg.Done(); s.noticeLoop() }()
	go func() { defer s.wg.Done(); s.publishLoop() }()
	go func() { defer s.wg.Done(); s.livenessLoop() }()
}

// Stop ends the background loops and waits for them.
func (s *Server) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

func (s *Server) Store() *store.Store { return s.store }
func (s *Server) Name() string        { return s.cfg.Name }
func (s *Server) MemberID() uint64    { return s.cfg.MemberID }
func (s *Server) ClusterID() uint64   { return s.cfg.ClusterID }
func (s *Server) ClusterName() string { return s.cfg.ClusterName }

// RaftStatus is the applied raft index and the current term.
func (s *Server) RaftStatus() (uint64, uint64) {
	return s.fsm.AppliedIndex(), s.raft.Term()
}

// sleep waits d or until the server stops; false means stop.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stop:
		return false
	case <-t.C:
		return true
	}
}

// stopContext is a context that ends when the server stops.
func (s *Server) stopContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Ready is closed once the cluster has committed this node's own attributes.
func (s *Server) Ready() <-chan struct{} { return s.ready }
