package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/fastpath"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/relay"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Node is one running Cairn node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	id     *identity
	store  *store.Store
	fsm    *fsm.FSM
	raft   *raftnode.Node
	server *server.Server
	quorum nodeQuorum

	clientLns  []net.Listener
	clientSrvs []*fastpath.Server
	peerSrv    *http.Server
	metricsLns []net.Listener
	metricsSrv *http.Server
	relay      *relay.Client // this node's writes and read-index requests to the leader
	relaySrv   *relay.Server // the other members' writes, when this node leads
	// cancelWatches ends held watch requests so the client servers can drain.
	cancelWatches context.CancelFunc

	// raftReady holds raft once started, for the peer traffic labels (dials start before).
	raftReady atomic.Pointer[raftnode.Node]

	stopOnce sync.Once
	stopErr  error
}

// Start builds the node and starts serving. On error everything it opened is closed again.
func Start(cfg Config) (n *Node, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DiscoverySRV != "" {
		ctx, cancel := context.WithTimeout(context.Background(), srvLookupTimeout)
		cfg.InitialCluster, err = discoverCluster(ctx, cfg.Resolver, cfg.DiscoverySRV, cfg.DiscoverySRVName, cfg.Name, cfg.InitialAdvertisePeerURLs)
		cancel()
		if err != nil {
			return nil, err
		}
		cfg.Logger.Info("initial cluster from DNS SRV records", "domain", cfg.DiscoverySRV, "initial_cluster", cfg.InitialCluster)
		// From here on the cluster is as if given by --initial-cluster, except that this member's
		// own entry names it as the records do, which discoverCluster matched by address.
		cfg.DiscoverySRV, cfg.discovered = "", true
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("--discovery-srv: %w", err)
		}
	}
	qcfg, err := quorumConfig(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("name", cfg.Name)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %v", err)
	}
	n = &Node{cfg: cfg, log: log}
	self := n // the closers use n, which a failing return sets to nil
	var closers []func()
	defer func() {
		if err != nil {
			n = self
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
			n = nil
		}
	}()

	tlsCfgs, err := buildTLS(cfg)
	if err != nil {
		return nil, err
	}
	peerLn := cfg.PeerListener
	if peerLn == nil {
		if peerLn, err = listen(cfg.ListenPeerURLs[0]); err != nil {
			return nil, fmt.Errorf("--listen-peer-urls: %v", err)
		}
	}
	closers = append(closers, func() { peerLn.Close() })
	if cfg.ClientListener != nil {
		n.clientLns = []net.Listener{listenerFor(cfg.ClientListener, cfg.ListenClientURLs[0], tlsCfgs.client)}
	} else {
		for _, u := range cfg.ListenClientURLs {
			ln, err := listen(u)
			if err != nil {
				return nil, fmt.Errorf("--listen-client-urls: %v", err)
			}
			n.clientLns = append(n.clientLns, listenerFor(ln, u, tlsCfgs.client))
		}
	}
	closers = append(closers, func() {
		for _, ln := range n.clientLns {
			ln.Close()
		}
	})
	for _, u := range cfg.ListenMetricsURLs {
		ln, err := listen(u)
		if err != nil {
			return nil, fmt.Errorf("--listen-metrics-urls: %v", err)
		}
		n.metricsLns = append(n.metricsLns, ln)
		closers = append(closers, func() { ln.Close() })
	}

	if cfg.PeerDial == nil {
		cfg.PeerDial = peerDialer(cfg.ListenPeerURLs[0], cfg.Resolver)
	}
	// Every peer connection, both ways, counts as traffic with that member.
	ms := metrics.New()
	peerLn = ms.Listener(peerLn, n.peerAddrs)
	cfg.PeerDial = ms.Dialer(cfg.PeerDial, n.peerAddrs)
	n.cfg.PeerDial = cfg.PeerDial
	peerClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		DialContext: cfg.PeerDial, TLSClientConfig: tlsCfgs.peerClient}}
	bootstrap, err := n.resolveIdentity(peerClient)
	if err != nil {
		return nil, err
	}
	peers, _ := ParseInitialCluster(cfg.InitialCluster)
	vctx, vcancel := context.WithTimeout(context.Background(), verifyTimeout)
	err = verifyPeers(vctx, peerClient, cfg.Name, cfg.ClusterName, n.id.ClusterID, peers)
	vcancel()
	if err != nil {
		return nil, err
	}

	n.store = store.New()
	n.fsm = fsm.New(n.store)
	advertise, err := hostPort(cfg.InitialAdvertisePeerURLs[0])
	if err != nil {
		return nil, err
	}
	n.raft, err = raftnode.New(raftnode.Config{
		ID: server.MemberIDString(n.id.MemberID), Dir: filepath.Join(cfg.DataDir, "raft"),
		Listener: peerLn, Advertise: advertise, Bootstrap: bootstrap,
		SnapshotThreshold: cfg.SnapshotCount, SnapshotInterval: cfg.SnapshotInterval,
		TrailingLogs: cfg.TrailingLogs, HeartbeatTimeout: cfg.ElectionTimeout,
		ElectionTimeout: cfg.ElectionTimeout, Logger: log, FSM: n.fsm,
		AppliedIndex: n.fsm.AppliedIndex, Dial: cfg.PeerDial, ForceNewCluster: cfg.ForceNewCluster,
		TLS: tlsCfgs.peerServer, DialTLS: tlsCfgs.peerClient, Metrics: ms,
	})
	if err != nil {
		return nil, err
	}
	n.raftReady.Store(n.raft)
	closers = append(closers, func() { n.raft.Shutdown() })
	if err := n.id.save(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("saving member identity: %v", err)
	}

	n.relay = relay.NewClient(relay.ClientConfig{ClusterID: n.id.ClusterID, Dial: n.raft.DialRelay, Logger: log, Metrics: ms})
	n.server = server.New(server.Config{
		Name: cfg.Name, MemberID: n.id.MemberID, ClusterID: n.id.ClusterID,
		PeerURLs: cfg.InitialAdvertisePeerURLs, ClientURLs: cfg.AdvertiseClientURLs,
		PeerScheme: scheme(cfg.InitialAdvertisePeerURLs[0]), PeerClient: peerClient, Logger: log,
		RequestTimeout: cfg.RequestTimeout, ReadIndexer: httpapi.RelayReadIndexer(n.relay),
		CommitWaiter: httpapi.RelayCommitWaiter(n.relay),
		ClusterName:  cfg.ClusterName, Rack: cfg.RackID, AlternateClientURLs: cfg.AdvertiseAlternateClientURLs,
		OfflineAfter: 2 * cfg.ElectionTimeout, QuorumPort: quorumPort(qcfg), VersionCheckInterval: cfg.VersionCheckInterval,
	}, n.fsm, n.raft)
	n.server.Run()
	closers = append(closers, n.server.Stop)

	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	err = ms.Register(reg, metrics.Sources{
		MemberID: n.id.MemberID, HasLeader: func() bool { return n.raft.LeaderID() != "" },
		IsLeader: n.raft.IsLeader, IsLearner: n.raft.IsLearner,
		CommittedIndex: n.raft.CommitIndex, AppliedIndex: n.raft.RaftAppliedIndex,
		TTLExpiries:     func() uint64 { return n.store.Stats().ExpireCount },
		WatchersDropped: n.store.DroppedWatchers,
	}, metrics.Versions{Server: api.ServerVersion, Cluster: api.ClusterVersion})
	if err != nil {
		return nil, fmt.Errorf("metrics: %v", err)
	}
	if err := n.startQuorum(qcfg, reg); err != nil {
		return nil, err
	}
	closers = append(closers, n.stopQuorum)
	authCfg, err := authConfig(cfg)
	if err != nil {
		return nil, err
	}
	hcfg := httpapi.Config{Limits: cfg.Limits, Serializable: cfg.ReadConsistency == "serializable",
		RequestTimeout: cfg.RequestTimeout, Logger: log, Registry: reg, Metrics: ms, PeerDial: cfg.PeerDial,
		PeerTLS: tlsCfgs.peerClient, Relay: n.relay, Auth: authCfg, Snapshots: n.fsm}
	clientAPI := httpapi.New(n.server, hcfg)
	var client http.Handler = clientAPI
	if cfg.EnablePprof {
		client = withPprof(client)
	}
	hcfg.Registry = nil
	peer := httpapi.NewPeer(n.server, hcfg)

	watchCtx, cancel := context.WithCancel(context.Background())
	n.cancelWatches = cancel
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	for _, ln := range n.clientLns {
		srv := &http.Server{Handler: client, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			BaseContext: func(net.Listener) context.Context { return watchCtx }, ErrorLog: errLog}
		// Plain keys requests are answered on the connection's goroutine; everything else,
		// watches included, is handed to srv with the bytes already read.
		fast := &fastpath.Server{Handler: client, Fast: httpapi.FastRequest, Fallback: srv,
			BaseContext: watchCtx, MaxBodyBytes: cfg.Limits.MaxRequestBytes, IdleTimeout: 2 * time.Minute}
		n.clientSrvs = append(n.clientSrvs, fast)
		go serve(log, fast, ln)
	}
	n.peerSrv = &http.Server{Handler: peer, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	go serve(log, n.peerSrv, n.raft.PeerHTTPListener())
	n.relaySrv = peer.RelayServer()
	go n.relaySrv.Serve(n.raft.RelayListener())
	n.metricsSrv = &http.Server{Handler: clientAPI.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	for _, ln := range n.metricsLns {
		go serve(log, n.metricsSrv, ln)
	}
	log.Info("cairn node started", "member", server.MemberIDString(n.id.MemberID),
		"cluster", server.MemberIDString(n.id.ClusterID), "client", strings.Join(n.ClientURLs(), ","),
		"peer", advertise, "metrics", strings.Join(n.MetricsURLs(), ","), "data-dir", cfg.DataDir)
	go func() {
		// The auth state is known once this member has caught up with the log.
		select {
		case <-n.server.Ready():
			n.warnPeerTrust()
		case <-watchCtx.Done():
		}
	}()
	return n, nil
}

// peerAddrs are the other members' raft addresses by member id, for the peer traffic labels.
func (n *Node) peerAddrs() map[string]string {
	rn := n.raftReady.Load()
	if rn == nil {
		return nil
	}
	servers, err := rn.Servers()
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(servers))
	for _, s := range servers {
		if string(s.ID) != rn.ID() {
			out[string(s.ID)] = string(s.Address)
		}
	}
	return out
}

// MetricsURLs are the URLs of the metrics listeners, with the real port when one listened on
// port 0.
func (n *Node) MetricsURLs() []string {
	var out []string
	for _, ln := range n.metricsLns {
		out = append(out, "http://"+ln.Addr().String())
	}
	return out
}

func serve(log *slog.Logger, srv interface{ Serve(net.Listener) error }, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
	}
}

// resolveIdentity decides who this node is: the saved identity on restart; ids computed from
// --initial-cluster for a new cluster (returning the bootstrap configuration); or ids learnt
// from the running members when joining.
func (n *Node) resolveIdentity(peerClient *http.Client) ([]raft.Server, error) {
	cfg := n.cfg
	id, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if id != nil {
		if id.Name != cfg.Name {
			return nil, fmt.Errorf("--data-dir %s belongs to member %q, not %q (--name)", cfg.DataDir, id.Name, cfg.Name)
		}
		n.id = id
		return nil, nil
	}
	cluster, _ := ParseInitialCluster(cfg.InitialCluster)
	if cfg.InitialClusterState == "existing" {
		var peers []string
		for name, urls := range cluster {
			if name != cfg.Name {
				peers = append(peers, urls...)
			}
		}
		if len(peers) == 0 {
			return nil, fmt.Errorf("--initial-cluster-state existing needs the running members in --initial-cluster")
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.JoinTimeout)
		defer cancel()
		n.id, err = joinIdentity(ctx, peerClient, peers, cfg.InitialAdvertisePeerURLs, cfg.RegisteredPeerURLs, cfg.Name)
		return nil, err
	}
	var servers []raft.Server
	var ids []uint64
	for _, urls := range cluster {
		mid := staticMemberID(urls, cfg.InitialClusterToken)
		ids = append(ids, mid)
		addr, err := hostPort(urls[0])
		if err != nil {
			return nil, err
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(server.MemberIDString(mid)), Address: raft.ServerAddress(addr)})
	}
	n.id = &identity{Name: cfg.Name, MemberID: staticMemberID(cluster[cfg.Name], cfg.InitialClusterToken),
		ClusterID: staticClusterID(ids, cfg.InitialClusterToken)}
	return servers, nil
}

// Stop shuts down in order: a leader hands leadership to a live voter first, then client
// traffic stops (held watches are ended), then raft, then the peer port.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		// Leadership goes first, so the cluster never waits on the client drain below.
		n.raft.HandOff()
		n.cancelWatches()
		n.stopQuorum()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, srv := range n.clientSrvs {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		}
		n.metricsSrv.Close()
		n.server.Stop()
		n.stopErr = n.raft.Shutdown()
		n.peerSrv.Close()
		n.relaySrv.Close()
		n.relay.Close()
		n.log.Info("cairn node stopped")
	})
	return n.stopErr
}

// ClientURLs are the advertised client URLs, with the real port when a test listened on port 0.
func (n *Node) ClientURLs() []string {
	if n.cfg.ClientListener != nil {
		return []string{scheme(n.cfg.ListenClientURLs[0]) + "://" + n.cfg.ClientListener.Addr().String()}
	}
	return n.cfg.AdvertiseClientURLs
}

// Server exposes the node's logic to in-process tests.
func (n *Node) Server() *server.Server { return n.server }

// Raft exposes the raft node to in-process tests.
func (n *Node) Raft() *raftnode.Node { return n.raft }

// Store exposes the node's store to in-process tests (read only by convention).
func (n *Node) Store() *store.Store { return n.store }

// FSM exposes the node's state machine to in-process tests.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Name is the member name.
func (n *Node) Name() string { return n.cfg.Name }

// MemberID is this node's member id.
func (n *Node) MemberID() uint64 { return n.id.MemberID }

func listen(rawURL string) (net.Listener, error) {
	hp, err := hostPort(rawURL)
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", hp)
}

func hostPort(rawURL string) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

func scheme(rawURL string) string {
	u, err := parseURL(rawURL)
	if err != nil {
		return "http"
	}
	return u.Scheme
}

// Kill stops the node abruptly, as a crash would look to its peers and clients: connections are
// dropped and leadership is not handed off. In-process test clusters use it.
func (n *Node) Kill() {
	n.stopOnce.Do(func() {
		n.cancelWatches()
		n.stopQuorum()
		for _, srv := range n.clientSrvs {
			srv.Close()
		}
		n.metricsSrv.Close()
		n.peerSrv.Close()
		n.relaySrv.Close()
		n.relay.Close()
		n.server.Stop()
		n.stopErr = n.raft.Kill()
	})
}

// peerDialer makes a node that listens for peers on one specific address also dial its peers
// from that address, so that on a multi-homed host peer traffic stays on the peer network (and
// a fault-injecting proxy can tell the members apart). A wildcard listener dials as the OS picks.
func peerDialer(listenURL string, r *net.Resolver) func(ctx context.Context, network, addr string) (net.Conn, error) {
	plain := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Resolver: r}
	u, err := parseURL(listenURL)
	if err != nil {
		return plain.DialContext
	}
	src := net.ParseIP(u.Hostname())
	if src == nil || src.IsUnspecified() {
		return plain.DialContext
	}
	bound := &net.Dialer{Timeout: plain.Timeout, KeepAlive: plain.KeepAlive, LocalAddr: &net.TCPAddr{IP: src}, Resolver: r}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if dst := net.ParseIP(host); dst != nil && (dst.To4() == nil) != (src.To4() == nil) {
			return plain.DialContext(ctx, network, addr)
		}
		return bound.DialContext(ctx, network, addr)
	}
}

// withPprof adds Go's profiling endpoints in front of the client API.
func withPprof(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
