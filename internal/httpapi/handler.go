package httpapi

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/cairn-io/cairn/internal/relay"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/internal/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	keysPrefix    = "/v2/keys"
	membersPrefix = "/v2/members"

	// headerForwarded marks a request a follower relayed to the leader; it is never relayed again.
	headerForwarded = "X-Cairn-Forwarded"
	// headerNotLeader tells the relaying follower that nothing was proposed and it may retry.
	headerNotLeader = "X-Cairn-Not-Leader"
	headerNode      = "X-Cairn-Node"
	// headerApplied tells the relaying follower the leader's applied index and term when it
	// answered ("index/term"): the follower answers its client once it has applied that far
	// itself, and takes the pair as a commit notice. It is never copied on.
	headerApplied = "X-Cairn-Applied-Index"
)

// Backend is what the HTTP layer needs from a node.
type Backend interface {
	Store() *store.Store
	Name() string
	MemberID() uint64
	ClusterID() uint64
	// ClusterName is this member's --cluster-name ("" when none).
	ClusterName() string
	// RaftStatus is the applied raft index and the current term, for X-Raft-Index/Term.
	RaftStatus() (index, term uint64)
	// Propose replicates cmd through the log and returns the store's answer once applied here.
	// It fails with raftnode.ErrNotLeader, having proposed nothing, when this node is not leader.
	Propose(ctx context.Context, cmd *fsm.Command) (*store.Event, error)
	// ReadBarrier returns once this node's store reflects every write acknowledged before the call.
	ReadBarrier(ctx context.Context) error
	// LeaderReadIndex is the read index a follower asks the leader for.
	LeaderReadIndex(ctx context.Context) (uint64, error)
	// WaitApplied returns once this node has applied index: a follower answers a write the
	// leader applied only once it has applied it too.
	WaitApplied(ctx context.Context, index uint64) error
	// AppliedIndex is the last raft index this node has applied.
	AppliedIndex() uint64
	// LearnCommit hands a follower the leader's commit index and term (raftnode.LearnCommit).
	LearnCommit(term, commit uint64)
	// LeaderWaitCommit serves a follower's commit-notice request (server.CommitWaiter).
	LeaderWaitCommit(ctx context.Context, after uint64) (commit, term uint64, err error)
	// WaitLeader returns the leader's peer URL, waiting while an election runs.
	WaitLeader(ctx context.Context) (string, error)
	Members() []server.MemberInfo
	Leader() (server.MemberInfo, bool)
	AddMember(ctx context.Context, peerURLs []string, learner bool) (server.MemberInfo, error)
	RemoveMember(ctx context.Context, id uint64) error
	UpdateMember(ctx context.Context, id uint64, peerURLs []string) error
	PromoteMember(ctx context.Context, id uint64) error
	// Ready is closed once the cluster has committed this node's own member entry.
	Ready() <-chan struct{}
	Publish(ctx context.Context, m server.MemberInfo) error
	SelfStats() any
	LeaderStats() (any, error)
	Health(ctx context.Context) error
	// The /v1 cluster view for smart clients (cluster.go).
	ClusterInfo(ctx context.Context) api.Cluster
	ClusterMembers(ctx context.Context) api.ClusterMembers
	ClusterMember(ctx context.Context, name string) (api.ClusterMember, error)
	SetMemberState(ctx context.Context, name, action string) error
	LocalLiveness() server.Liveness
	// LocalVersion is what this member publishes to the leader at server.VersionPath; ClusterLevel
	// is the cluster version as applied here.
	LocalVersion() server.MemberVersion
	ClusterLevel() fsm.Level
	// AuthState is the replicated users, roles and enabled flag as applied here.
	AuthState() *auth.State
	// ApplyAuth replicates the auth change build makes (build runs only on the leader) and
	// returns its outcome; raftnode.ErrNotLeader on a follower.
	ApplyAuth(ctx context.Context, build func() (*auth.Command, error)) (auth.Result, error)
}

// Config configures the handlers.
type Config struct {
	Limits Limits
	// Serializable makes plain GETs local reads; quorum=true stays linearizable.
	Serializable bool
	// RequestTimeout bounds a write or a linearizable read, including waiting for a leader.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Registry is what /metrics serves (nil: no /metrics); Metrics is where the handlers
	// count (nil: an unregistered set).
	Registry *prometheus.Registry
	Metrics  *metrics.Set
	// Snapshots serves backups (cairnctl snapshot save) on the client port; nil: none.
	Snapshots Snapshotter
	// PeerDial opens connections to other members (nil: the standard dialer).
	PeerDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PeerTLS, when set, is the client side of TLS to other members' peer ports.
	PeerTLS *tls.Config
	// Relay carries a follower's keys writes to the leader (nil: they go as HTTP requests,
	// like the members API's). The caller owns it and closes it.
	Relay *relay.Client
	// Auth configures authentication of client requests once auth is enabled.
	Auth AuthConfig
}

// Handler serves one node's client API.
type Handler struct {
	b       Backend
	cfg     Config
	log     *slog.Logger
	fwd     *forwarder
	authn   *authenticator
	metrics *httpMetrics
	probe   probeState
	ui      *ui.Handler
	mux     *http.ServeMux
	peer    bool
	// Header values fixed for the node's life, built once.
	nodeName, clusterID []string
}

var (
	corsAllowHeaders = []string{"accept, content-type, authorization"}
	corsAllowMethods = []string{"POST, GET, OPTIONS, PUT, DELETE"}
	corsAllowOrigin  = []string{"*"}
	jsonContentType  = []string{"application/json"}
)

// New returns the client-port handler.
func New(b Backend, cfg Config) *Handler {
	return newHandler(b, cfg, false)
}

// NewPeer returns the handler for the peer port: the leader-only requests that followers relay,
// and the read index. It trusts its callers to be members, which the peer port's TLS enforces.
func NewPeer(b Backend, cfg Config) *Handler {
	return newHandler(b, cfg, true)
}

func newHandler(b Backend, cfg Config, peer bool) *Handler {
	if cfg.Limits.MaxKeyBytes == 0 {
		cfg.Limits = DefaultLimits
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{b: b, cfg: cfg, log: cfg.Logger, peer: peer, mux: http.NewServeMux(),
		nodeName: []string{b.Name()}, clusterID: []string{idString(b.ClusterID())}}
	h.fwd = newForwarder(b, cfg.RequestTimeout, cfg.PeerDial, cfg.PeerTLS, cfg.Relay)
	h.authn = newAuthenticator(b, cfg.Auth, cfg.Logger)
	h.metrics = newHTTPMetrics(cfg.Metrics)
	h.registerCluster()
	if peer {
		h.mux.HandleFunc(server.ReadIndexPath, h.serveReadIndex)
		h.mux.HandleFunc(server.ClusterPath, h.servePeerCluster)
		h.mux.HandleFunc(server.PublishPath, h.servePublish)
		h.mux.HandleFunc(server.VersionPath, h.servePeerVersion)
	} else {
		h.ui = ui.New()
		h.mux.HandleFunc(loginPath, h.serveLogin)
		h.mux.HandleFunc("/version", h.serveVersion)
		h.mux.HandleFunc("/health", h.serveHealth)
		h.mux.HandleFunc(livezPath, h.serveLivez)
		h.mux.HandleFunc(readyzPath, h.serveReadyz)
		h.mux.HandleFunc(api.SnapshotPath, h.serveSnapshot)
		h.mux.HandleFunc("/v2/machines", h.serveMachines)
		h.mux.HandleFunc("/v2/stats/self", h.serveSelfStats)
		h.mux.HandleFunc("/v2/stats/store", h.serveStoreStats)
		h.mux.HandleFunc("/v2/stats/leader", h.serveLeaderStats)
		if cfg.Registry != nil {
			if err := metrics.RegisterAuthCache(cfg.Registry, h.authn.verifier.Stats); err != nil {
				h.log.Warn("auth cache metrics not exported", "err", err)
			}
			h.mux.Handle("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
		}
	}
	return h
}

// ServeHTTP routes /v2/keys and /v2/members by prefix: http.ServeMux would clean "//" and ".."
// out of key paths and redirect, hiding malformed keys that must be refused instead.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Canonical keys and shared one-element values: Header.Set would canonicalise and allocate
	// on every request. The slices are never appended to in place (len == cap).
	hd["Access-Control-Allow-Headers"] = corsAllowHeaders
	hd["Access-Control-Allow-Methods"] = corsAllowMethods
	hd["Access-Control-Allow-Origin"] = corsAllowOrigin
	hd[headerNode] = h.nodeName
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		rec := &statusRecorder{ResponseWriter: w}
		w = rec
		defer h.logRequest(r, rec, time.Now())
	}
	if !h.peer && !h.waitReady(w, r) {
		return
	}
	p := r.URL.Path
	switch {
	case p == keysPrefix || strings.HasPrefix(p, keysPrefix+"/"):
		hd["X-Etcd-Cluster-Id"] = h.clusterID
		h.serveKeys(w, r)
	case p == membersPrefix || strings.HasPrefix(p, membersPrefix+"/"):
		hd["X-Etcd-Cluster-Id"] = h.clusterID
		h.serveMembers(w, r)
	case p == authPrefix || strings.HasPrefix(p, authPrefix+"/"):
		hd["X-Etcd-Cluster-Id"] = h.clusterID
		h.serveAuth(w, r)
	case !h.peer && (p == "/ui" || strings.HasPrefix(p, ui.Prefix)):
		h.serveUI(w, r)
	default:
		h.mux.ServeHTTP(w, r)
	}
}

// logRequest is the debug-level request log: one record per request, after its answer.
func (h *Handler) logRequest(r *http.Request, rec *statusRecorder, start time.Time) {
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rec.status()),
		slog.Duration("duration", time.Since(start)), slog.String("remote", r.RemoteAddr))
}

// idString renders ids as etcd does: lower-case hex without padding.
func idString(id uint64) string { return strconv.FormatUint(id, 16) }

func (h *Handler) setRaftHeaders(w http.ResponseWriter, etcdIndex uint64) {
	ri, term := h.b.RaftStatus()
	// Every keys answer carries these three: one string holding the three numbers and one array
	// holding the three values take two allocations where three of each took six. Each value's
	// slice is capped at its own element, so that an Add to one header cannot write into the next.
	var buf [3 * 20]byte
	b := strconv.AppendUint(buf[:0], etcdIndex, 10)
	i := len(b)
	b = strconv.AppendUint(b, ri, 10)
	j := len(b)
	all := string(strconv.AppendUint(b, term, 10))
	vals := [...]string{all[:i], all[i:j], all[j:]}
	held := vals[:]
	hd := w.Header()
	hd["X-Etcd-Index"] = held[0:1:1]
	hd["X-Raft-Index"] = held[1:2:2]
	hd["X-Raft-Term"] = held[2:3:3]
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	// etcd rejects the method before it adds its cluster header.
	w.Header().Del("X-Etcd-Cluster-Id")
	w.Header().Set("Allow", strings.Join(methods, ","))
	http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	return false
}

// waitReady holds client requests until this node's member entry is committed, bounded by the
// request timeout; /health answers at once, unhealthy, the probes answer at once for
// themselves (alive, not ready), and the dashboard's files are served at once.
func (h *Handler) waitReady(w http.ResponseWriter, r *http.Request) bool {
	ready := h.b.Ready()
	select {
	case <-ready:
		return true
	default:
	}
	if r.URL.Path == livezPath || r.URL.Path == readyzPath || isUIFile(r.URL.Path) {
		return true
	}
	if r.URL.Path == "/health" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"health":"false"}`))
		return false
	}
	t := time.NewTimer(h.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case <-ready:
		return true
	case <-r.Context().Done():
		return false
	case <-t.C:
		writeKeyError(w, errNotReady)
		return false
	}
}

// FastRequest reports whether a request may take the client port's fast path
// (internal/fastpath): a keys read or write that answers at once. Watches stream and stay
// with net/http, as does everything that is not a keys request.
func FastRequest(method, path, rawQuery string) bool {
	if path != keysPrefix && !strings.HasPrefix(path, keysPrefix+"/") {
		return false
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		return false
	}
	// Conservative: any mention of wait, even wait=false, goes to net/http.
	return !strings.Contains(rawQuery, "wait")
}
