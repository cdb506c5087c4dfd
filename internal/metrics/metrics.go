package metrics

import (
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Set is one node's metrics. The fields are what the observing code touches.
type Set struct {
	// etcd_server_*: leadership and proposals.
	LeaderChanges         prometheus.Counter
	ProposalsPending      prometheus.Gauge
	ProposalsFailed       prometheus.Counter
	HeartbeatSendFailures prometheus.Counter
	ReadIndexesFailed     prometheus.Counter
	HealthSuccess         prometheus.Counter
	HealthFailures        prometheus.Counter

	// etcd_disk_*: the raft log.
	WALFsync      prometheus.Histogram
	WALWriteBytes prometheus.Gauge

	// etcd_network_*: peer traffic, labelled with the other member's id.
	PeerRTT           *prometheus.HistogramVec // To
	PeerSentBytes     *prometheus.CounterVec   // To
	PeerReceivedBytes *prometheus.CounterVec   // From
	PeerSentFailures  *prometheus.CounterVec   // To

	// etcd_http_*: etcd v2's client API metrics (method GET, QGET, PUT, POST, DELETE).
	HTTPReceived   *prometheus.CounterVec   // method
	HTTPFailed     *prometheus.CounterVec   // method, code
	HTTPSuccessful *prometheus.HistogramVec // method

	// cairn_*.
	RequestDuration  *prometheus.HistogramVec // operation, status
	Watchers         prometheus.Gauge
	ReadIndexRounds  prometheus.Counter
	ReadIndexBatch   prometheus.Histogram
	RelayFrames      *prometheus.CounterVec // direction, kind
	SnapshotDuration prometheus.Histogram
	SnapshotSize     prometheus.Gauge

	own []prometheus.Collector
}

// Sources are the values read at scrape time rather than counted as they happen.
type Sources struct {
	MemberID uint64
	// HasLeader: a leader is known; IsLeader: this member leads; IsLearner: it does not vote.
	HasLeader, IsLeader, IsLearner func() bool
	// CommittedIndex and AppliedIndex are raft's; etcd exports its own as proposals
	// committed and applied.
	CommittedIndex, AppliedIndex func() uint64
	// TTLExpiries counts keys removed because their TTL ran out; WatchersDropped counts
	// watchers ended because they fell too far behind.
	TTLExpiries, WatchersDropped func() uint64
}

// Versions reported as etcd's: the server and cluster versions Cairn answers on /version.
type Versions struct {
	Server, Cluster string
}

func expBuckets(start float64, n int) []float64 { return prometheus.ExponentialBuckets(start, 2, n) }

// New makes an unregistered Set; Register exports it.
func New() *Set {
	s := &Set{
		LeaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "leader_changes_seen_total", Help: "The number of leader changes seen."}),
		// etcd exports these two as gauges, and dashboards query them as such.
		ProposalsPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server",
			Name: "proposals_pending", Help: "The current number of pending proposals to commit."}),
		ProposalsFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "proposals_failed_total", Help: "The total number of failed proposals seen."}),
		HeartbeatSendFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "heartbeat_send_failures_total", Help: "The total number of leader heartbeat send failures (likely overloaded from slow disk)."}),
		ReadIndexesFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "read_indexes_failed_total", Help: "The total number of failed read indexes seen."}),
		HealthSuccess: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "health_success", Help: "The total number of successful health checks"}),
		HealthFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "server",
			Name: "health_failures", Help: "The total number of failed health checks"}),

		WALFsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "etcd", Subsystem: "disk",
			Name: "wal_fsync_duration_seconds", Help: "The latency distributions of fsync called by WAL.",
			Buckets: expBuckets(0.001, 14)}),
		WALWriteBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "disk",
			Name: "wal_write_bytes_total", Help: "Total number of bytes written in WAL."}),

		PeerRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_round_trip_time_seconds", Help: "Round-Trip-Time histogram between peers",
			Buckets: expBuckets(0.0001, 16)}, []string{"To"}),
		PeerSentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_sent_bytes_total", Help: "The total number of bytes sent to peers."}, []string{"To"}),
		PeerReceivedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_received_bytes_total", Help: "The total number of bytes received from peers."}, []string{"From"}),
		PeerSentFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_sent_failures_total", Help: "The total number of send failures from peers."}, []string{"To"}),

		HTTPReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "http",
			Name: "received_total", Help: "Counter of requests received into the system (successfully parsed and authd)."},
			[]string{"method"}),
		HTTPFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "http",
			Name: "failed_total", Help: "Counter of handle failures of requests (non-watches), by method (GET/PUT etc.) and code (400, 500 etc.)."},
			[]string{"method", "code"}),
		HTTPSuccessful: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "etcd", Subsystem: "http",
			Name: "successful_duration_seconds", Help: "Bucketed histogram of processing time (s) of successfully handled requests (non-watches), by method (GET/PUT etc.).",
			Buckets: expBuckets(0.0005, 13)}, []string{"method"}),

		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cairn", Subsystem: "http",
			Name: "request_duration_seconds", Help: "Latency of keys requests (watches excluded), by operation (get, qget, put, post, delete) and HTTP status.",
			Buckets: expBuckets(0.0001, 16)}, []string{"operation", "status"}),
		Watchers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cairn", Name: "watchers",
			Help: "Watch requests currently held open on this member."}),
		ReadIndexRounds: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "read_index",
			Name: "rounds_total", Help: "Leadership confirmation rounds the leader ran for linearizable reads."}),
		ReadIndexBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "cairn", Subsystem: "read_index",
			Name: "batch_size", Help: "Reads that shared one leadership confirmation round.",
			Buckets: expBuckets(1, 12)}),
		RelayFrames: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "relay",
			Name: "frames_total", Help: "Write-relay frames between followers and the leader, by direction (sent, received)."},
			[]string{"direction"}),
		SnapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "cairn", Subsystem: "snapshot",
			Name: "duration_seconds", Help: "Time to write one raft snapshot of the state machine.",
			Buckets: expBuckets(0.001, 16)}),
		SnapshotSize: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cairn", Subsystem: "snapshot",
			Name: "size_bytes", Help: "Size of the latest raft snapshot of the state machine."}),
	}
	s.own = []prometheus.Collector{s.LeaderChanges, s.ProposalsPending, s.ProposalsFailed, s.HeartbeatSendFailures,
		s.ReadIndexesFailed, s.HealthSuccess, s.HealthFailures, s.WALFsync, s.WALWriteBytes, s.PeerRTT,
		s.PeerSentBytes, s.PeerReceivedBytes, s.PeerSentFailures, s.HTTPReceived, s.HTTPFailed, s.HTTPSuccessful,
		s.RequestDuration, s.Watchers, s.ReadIndexRounds, s.ReadIndexBatch, s.RelayFrames, s.SnapshotDuration,
		s.SnapshotSize}
	return s
}

func boolGauge(f func() bool) func() float64 {
	return func() float64 {
		if f != nil && f() {
			return 1
		}
		return 0
	}
}

func indexGauge(f func() uint64) func() float64 {
	return func() float64 {
		if f == nil {
			return 0
		}
		return float64(f())
	}
}

// info is etcd's way of exporting a string: a gauge at 1 with the string as its one label.
func info(subsystem, name, help, label, value string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: subsystem, Name: name, Help: help}, []string{label})
	g.WithLabelValues(value).Set(1)
	return g
}

// Register exports the Set on reg, with the values read at scrape time from src.
func (s *Set) Register(reg prometheus.Registerer, src Sources, v Versions) error {
	cs := append([]prometheus.Collector{}, s.own...)
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "has_leader",
			Help: "Whether or not a leader exists. 1 is existence, 0 is not."}, boolGauge(src.HasLeader)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "is_leader",
			Help: "Whether or not this member is a leader. 1 if is, 0 otherwise."}, boolGauge(src.IsLeader)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "is_learner",
			Help: "Whether or not this member is a learner. 1 if is, 0 otherwise."}, boolGauge(src.IsLearner)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "proposals_committed_total",
			Help: "The total number of consensus proposals committed."}, indexGauge(src.CommittedIndex)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "proposals_applied_total",
			Help: "The total number of consensus proposals applied."}, indexGauge(src.AppliedIndex)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "ttl", Name: "expiries_total",
			Help: "Keys removed because their TTL ran out."}, indexGauge(src.TTLExpiries)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cairn", Name: "watchers_dropped_total",
			Help: "Watchers ended because they fell too far behind the events."}, indexGauge(src.WatchersDropped)),
		info("server", "id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
			"server_id", strconv.FormatUint(src.MemberID, 16)),
		info("server", "version", "Which version is running. 1 for 'server_version' label with current version.",
			"server_version", v.Server),
		info("server", "go_version", "Which Go version server is running with. 1 for 'server_go_version' label with current version.",
			"server_go_version", runtime.Version()),
		info("cluster", "version", "Which version is running. 1 for 'cluster_version' label with current cluster version",
			"cluster_version", v.Cluster),
	)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// RegisterAuthCache exports the native password verifier's cache on reg: hits are
// credentials accepted without a bcrypt comparison, misses the checks that needed one (or
// were refused). stats is read at scrape time.
func RegisterAuthCache(reg prometheus.Registerer, stats func() (hits, misses uint64)) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "auth", Name: "cache_hits_total",
			Help: "Native credential checks answered from the verifier's cache, without a password hash comparison."},
			func() float64 { h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "auth", Name: "cache_misses_total",
			Help: "Native credential checks that were not in the verifier's cache (a password hash comparison, or a refusal)."},
			func() float64 { _, m := stats(); return float64(m) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Since is seconds since start, for Observe.
func Since(start time.Time) float64 { return time.Since(start).Seconds() }
