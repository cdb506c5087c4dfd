package raftnode

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/hashicorp/raft"
)

// LatencyStats has etcd's /v2/stats/leader shape; values are milliseconds,
// the unit etcd's v2stats uses.
type LatencyStats struct {
	Current           float64 `json:"current"`
	Average           float64 `json:"average"`
	StandardDeviation float64 `json:"standardDeviation"`
	Minimum           float64 `json:"minimum"`
	Maximum           float64 `json:"maximum"`
}

// CountsStats counts AppendEntries RPCs that got a reply (success) or failed
// at the transport (fail).
type CountsStats struct {
	Fail    uint64 `json:"fail"`
	Success uint64 `json:"success"`
}

// FollowerStats is one follower's entry of /v2/stats/leader.
type FollowerStats struct {
	Latency LatencyStats `json:"latency"`
	Counts  CountsStats  `json:"counts"`
}

// peerStats accumulates what the leader observed of one follower.
type peerStats struct {
	n           uint64
	fail        uint64
	sum, sumSq  float64
	min, max    float64
	current     float64
	lastContact time.Time
	// ackSent/ackTerm: send time and term of the latest AppendEntries the
	// follower answered without a higher term, i.e. that acknowledged this
	// node as leader of ackTerm when it processed the request.
	ackSent time.Time
	ackTerm uint64
}

func (p *peerStats) export() FollowerStats {
	fs := FollowerStats{Counts: CountsStats{Fail: p.fail, Success: p.n}}
	if p.n > 0 {
		avg := p.sum / float64(p.n)
		fs.Latency = LatencyStats{
			Current:           p.current,
			Average:           avg,
			StandardDeviation: math.Sqrt(max(0, p.sumSq/float64(p.n)-avg*avg)),
			Minimum:           p.min,
			Maximum:           p.max,
		}
	}
	return fs
}

// statsTransport measures, per follower, the round trip of every synchronous
// AppendEntries RPC the leader sends: the heartbeats (every HeartbeatTimeout/10)
// and non-pipelined replication. A successful reply also stamps the
// follower's last contact, which Shutdown uses to pick a live transfer
// target. Everything else passes through unchanged.
type statsTransport struct {
	*raft.NetworkTransport
	m *metrics.Set

	sent, recv   rateCounter
	heartbeats   heartbeatGuard
	consumer     chan raft.RPC
	relayOnce    sync.Once
	stopRelay    chan struct{}
	stopRelayOne sync.Once

	mu      sync.Mutex
	peers   map[raft.ServerID]*peerStats
	changed chan struct{} // closed and replaced on every acknowledgement
}

var (
	_ raft.Transport   = (*statsTransport)(nil)
	_ raft.WithClose   = (*statsTransport)(nil)
	_ raft.WithPreVote = (*statsTransport)(nil)
)

func newStatsTransport(m *metrics.Set, t *raft.NetworkTransport) *statsTransport {
	return &statsTransport{NetworkTransport: t, m: m, peers: map[raft.ServerID]*peerStats{}, changed: make(chan struct{}),
		consumer: make(chan raft.RPC), stopRelay: make(chan struct{})}
}

// Consumer relays the transport's RPCs so that incoming AppendEntries are counted.
func (t *statsTransport) Consumer() <-chan raft.RPC {
	t.relayOnce.Do(func() {
		go relayConsumer(t.NetworkTransport.Consumer(), t.consumer, &t.recv, t.stopRelay)
	})
	return t.consumer
}

// Close stops the relay and the transport.
func (t *statsTransport) Close() error {
	t.stopRelayOne.Do(func() { close(t.stopRelay) })
	return t.NetworkTransport.Close()
}

// AppendEntriesPipeline refuses, so raft replicates with one AppendEntries at a time. Its
// pipeline can deadlock: when a follower's answer ends raft's pipeline decoder (a newer term,
// a refusal), a send racing that exit parks on the pipeline's in-flight channel while the
// transport's decoder parks on a done channel nobody reads any more; replication to that
// follower stops for good and Shutdown waits forever (seen here in TestGracefulStopHandsOff-
// Leadership and the membership tests on a loaded machine; grafana/pyroscope#5518 describes
// the same). Replication without pipelining measured no slower (docs/performance.md).
func (t *statsTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (t *statsTransport) traffic() TrafficStats {
	now := time.Now()
	ts := TrafficStats{SendAppendRequests: t.sent.total.Load(), RecvAppendRequests: t.recv.total.Load()}
	ts.SendPkgRate, ts.SendBandwidthRate = t.sent.rates(now)
	ts.RecvPkgRate, ts.RecvBandwidthRate = t.recv.rates(now)
	return ts
}

func (t *statsTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress,
	args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	start := time.Now()
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.sent.add(1, entriesSize(args), start)
	}
	var ackTerm uint64
	if err == nil && resp.Term == args.Term {
		ackTerm = args.Term
	}
	d := time.Since(start)
	t.record(id, start, d, err, ackTerm)
	if err != nil {
		t.m.HeartbeatSendFailures.Inc()
	} else {
		t.m.PeerRTT.WithLabelValues(string(id)).Observe(d.Seconds())
	}
	return err
}

func (t *statsTransport) record(id raft.ServerID, start time.Time, d time.Duration, err error, ackTerm uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[id]
	if p == nil {
		p = &peerStats{min: math.Inf(1)}
		t.peers[id] = p
	}
	if err != nil {
		p.fail++
		return
	}
	ms := float64(d) / float64(time.Millisecond)
	p.n++
	p.current = ms
	p.sum += ms
	p.sumSq += ms * ms
	p.min = min(p.min, ms)
	p.max = max(p.max, ms)
	if start.After(p.lastContact) {
		p.lastContact = start
	}
	if ackTerm != 0 && (ackTerm > p.ackTerm || ackTerm == p.ackTerm && start.After(p.ackSent)) {
		p.ackTerm, p.ackSent = ackTerm, start
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// ackedSince counts the given servers that acknowledged this node as leader
// of term with a request sent at or after since, and returns a channel that
// closes on the next acknowledgement.
func (t *statsTransport) ackedSince(servers []raft.ServerID, term uint64, since time.Time) (int, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, id := range servers {
		if p := t.peers[id]; p != nil && p.ackTerm == term && !p.ackSent.Before(since) {
			n++
		}
	}
	return n, t.changed
}

// reset starts a new leadership's statistics, as etcd does per leader.
func (t *statsTransport) reset() {
	t.mu.Lock()
	t.peers = map[raft.ServerID]*peerStats{}
	t.mu.Unlock()
}

func (t *statsTransport) followerStats() map[raft.ServerID]FollowerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[raft.ServerID]FollowerStats, len(t.peers))
	for id, p := range t.peers {
		out[id] = p.export()
	}
	return out
}

// lastContact is when the follower last answered an AppendEntries sent at or
// after that time (zero if never).
func (t *statsTransport) lastContact(id raft.ServerID) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[id]; p != nil {
		return p.lastContact
	}
	return time.Time{}
}

// countingLogStore counts log appends: on the leader each StoreLogs call is
// one bbolt transaction, i.e. one fsync, so entries per append shows how well
// group commit batches concurrent writes.
type countingLogStore struct {
	raft.LogStore
	m                *metrics.Set
	appends, entries atomic.Uint64
	// stored, when set, hears the last index of every successful append (commit.go).
	stored func(last uint64)
}

// IsMonotonic passes raft-wal's answer through (raft.MonotonicLogStore): raft-wal takes only
// appends that follow its last entry, so a follower that installs a leader's snapshot must drop
// its whole log, as raft does for such stores, rather than compact it; kept, the old entries
// make every later append fail and the follower never catches up.
func (c *countingLogStore) IsMonotonic() bool {
	m, ok := c.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (c *countingLogStore) StoreLog(l *raft.Log) error {
	return c.StoreLogs([]*raft.Log{l})
}

func (c *countingLogStore) StoreLogs(logs []*raft.Log) error {
	c.appends.Add(1)
	c.entries.Add(uint64(len(logs)))
	bytes := 0
	for _, l := range logs {
		bytes += len(l.Data) + len(l.Extensions)
	}
	// raft-wal writes and fsyncs the batch before StoreLogs returns: its time is the fsync's.
	start := time.Now()
	err := c.LogStore.StoreLogs(logs)
	if err == nil {
		c.m.WALFsync.Observe(metrics.Since(start))
		c.m.WALWriteBytes.Add(float64(bytes))
		if c.stored != nil && len(logs) > 0 {
			c.stored(logs[len(logs)-1].Index)
		}
	}
	return err
}
