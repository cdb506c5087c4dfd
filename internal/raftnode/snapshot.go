package raftnode

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Snapshot policy. raft checks Config.SnapshotThreshold only at a random
// moment between SnapshotInterval and twice that, so a burst could leave
// millions of entries in the log, all replayed on the next start. Here the
// FSM's applies are counted instead: once SnapshotThreshold writes were
// applied since the last snapshot, a snapshot is asked for at once, whatever
// the write rate. A graceful stop (Shutdown) also snapshots when more than
// StopSnapshotThreshold writes were applied since the last one, within
// StopSnapshotTimeout, so a restart after a stop replays almost nothing.
//
// Writes, not entries: an FSM whose entries can carry several writes (fsm's
// batch entries) says how many each holds (entryWeigher), since a restart
// replays writes and a log of batch entries holds many per entry.
const (
	DefaultStopSnapshotThreshold = 1024
	DefaultStopSnapshotTimeout   = 3 * time.Second

	// snapshotRetryDelay spaces attempts after a failed snapshot (a full
	// disk, say), so that every apply does not start another one.
	snapshotRetryDelay = time.Second
	// abortGrace bounds the wait for a snapshot that was told to stop
	// writing; only the FSM's in-memory capture can run that long.
	abortGrace = 2 * time.Second
	// minTrailingLogs is the fewest entries kept behind a snapshot however many writes each
	// holds (noteCaptured), unless Config.TrailingLogs asks for fewer.
	minTrailingLogs = 1024
)

// errSnapshotAborted fails the writes of a snapshot still in progress when
// the node stops: its sink is cancelled and the previous snapshot stays.
var errSnapshotAborted = errors.New("raftnode: snapshot abandoned, the node is stopping")

// snapshotAborter is an FSM whose in-memory capture of its state can be cut
// short; fsm.FSM is one. A stopping node uses it when capturing a large
// state on a loaded machine would outlast the stop's budget.
type snapshotAborter interface{ AbortSnapshots() }

// abortSnapshots ends the snapshot in progress, if any, wherever it is: the
// FSM's capture (when the FSM can abort it) or the writes to the store.
func (n *Node) abortSnapshots() {
	if a, ok := n.cfg.FSM.(snapshotAborter); ok {
		a.AbortSnapshots()
	}
	n.snaps.abortWrites()
}

// snapshotStore wraps raft's store to know the index of the newest snapshot
// (taken here or installed from the leader) and to cut short a snapshot
// being written when the node stops.
type snapshotStore struct {
	raft.SnapshotStore
	last      atomic.Uint64
	onClose   func(index uint64) // after each snapshot is stored; nil: none
	abort     chan struct{}
	abortOnce sync.Once
}

func newSnapshotStore(inner raft.SnapshotStore) (*snapshotStore, error) {
	s := &snapshotStore{SnapshotStore: inner, abort: make(chan struct{})}
	metas, err := inner.List()
	if err != nil {
		return nil, err
	}
	if len(metas) > 0 {
		s.last.Store(metas[0].Index) // List is newest first
	}
	return s, nil
}

func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &snapshotSink{SnapshotSink: sink, store: s, index: index}, nil
}

// abortWrites makes the snapshot being written, if any, fail at its next
// write. Only a stopping node calls it: no snapshot is written afterwards.
func (s *snapshotStore) abortWrites() { s.abortOnce.Do(func() { close(s.abort) }) }

type snapshotSink struct {
	raft.SnapshotSink
	store *snapshotStore
	index uint64
}

func (s *snapshotSink) Write(p []byte) (int, error) {
	select {
	case <-s.store.abort:
		return 0, errSnapshotAborted
	default:
	}
	return s.SnapshotSink.Write(p)
}

func (s *snapshotSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	if s.store.onClose != nil {
		s.store.onClose(s.index)
	}
	for {
		last := s.store.last.Load()
		if s.index <= last || s.store.last.CompareAndSwap(last, s.index) {
			return nil
		}
	}
}

// entryWeigher is an FSM whose log entries can carry more than one write; fsm.FSM is one.
type entryWeigher interface {
	// EntryWrites is how many writes a command entry's data holds (at least one).
	EntryWrites(data []byte) uint64
}

// countingFSM passes every apply through to the FSM and, on the FSM
// goroutine, counts the writes applied so the node can ask for a snapshot as
// soon as the threshold is crossed. It hands raft's batches on whole when
// the FSM takes them (raft.BatchingFSM).
type countingFSM struct {
	raft.FSM
	batch  raft.BatchingFSM // nil when the FSM applies one entry at a time
	weigh  entryWeigher     // nil: one write per entry
	writes uint64           // writes applied since the start; FSM goroutine only
	cmds   uint64           // command entries applied since the start; FSM goroutine only
	// applied gets the cumulative writes after every apply, restored when the state is
	// replaced by a snapshot; captured gets them, and the command entries, when a snapshot is
	// captured.
	applied, restored func(writes uint64)
	captured          func(writes, entries uint64)
}

func newCountingFSM(f raft.FSM, applied func(uint64), captured func(uint64, uint64), restored func(uint64)) *countingFSM {
	b, _ := f.(raft.BatchingFSM)
	w, _ := f.(entryWeigher)
	return &countingFSM{FSM: f, batch: b, weigh: w, applied: applied, captured: captured, restored: restored}
}

func (f *countingFSM) count(l *raft.Log) {
	if l.Type != raft.LogCommand {
		return
	}
	f.cmds++
	if f.weigh == nil {
		f.writes++
		return
	}
	f.writes += f.weigh.EntryWrites(l.Data)
}

func (f *countingFSM) Apply(l *raft.Log) interface{} {
	r := f.FSM.Apply(l)
	f.count(l)
	f.applied(f.writes)
	return r
}

func (f *countingFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	var out []interface{}
	if f.batch != nil {
		out = f.batch.ApplyBatch(logs)
	} else {
		// raft's batches hold configuration entries too, which a plain FSM never sees.
		out = make([]interface{}, len(logs))
		for i, l := range logs {
			if l.Type == raft.LogCommand {
				out[i] = f.FSM.Apply(l)
			}
		}
	}
	for _, l := range logs {
		f.count(l)
	}
	if len(logs) > 0 {
		f.applied(f.writes)
	}
	return out
}

// Snapshot runs on the FSM goroutine, between applies: the writes counted so far are exactly
// those the snapshot holds.
func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.FSM.Snapshot()
	if err == nil {
		f.captured(f.writes, f.cmds)
	}
	return s, err
}

func (f *countingFSM) Restore(rc io.ReadCloser) error {
	err := f.FSM.Restore(rc)
	if err == nil {
		f.restored(f.writes)
	}
	return err
}

// noteApplied runs on raft's FSM goroutine after every apply: two atomic
// operations and a comparison, and a non-blocking send once the threshold is met.
func (n *Node) noteApplied(writes uint64) {
	n.writesApplied.Store(writes)
	if writes >= n.writesAtSnapshot.Load()+n.cfg.SnapshotThreshold {
		select {
		case n.snapKick <- struct{}{}:
		default:
		}
	}
}

// noteCaptured and noteStored move writesAtSnapshot to a snapshot once it is stored; raft takes
// one snapshot at a time, so the capture noted last is the one being stored.
//
// noteCaptured also sizes the log kept behind the snapshot (raft's TrailingLogs, counted in
// entries) so that it holds about Config.TrailingLogs writes: raft compacts right after it
// stores the snapshot, so the size set now is the one used. With batch entries of 40 writes,
// the configured 10,240 entries would otherwise keep 400,000 writes on disk for followers that
// seldom lag by more than a few hundred.
func (n *Node) noteCaptured(writes, entries uint64) {
	n.writesCaptured.Store(writes)
	prevWrites, prevEntries := n.capturedAt[0], n.capturedAt[1]
	n.capturedAt = [2]uint64{writes, entries}
	r := n.started.Load()
	if r == nil || entries <= prevEntries || writes <= prevWrites {
		return
	}
	perEntry := max(1, (writes-prevWrites)/(entries-prevEntries))
	trailing := max(n.cfg.TrailingLogs/perEntry, min(n.cfg.TrailingLogs, minTrailingLogs))
	rc := r.ReloadableConfig()
	if rc.TrailingLogs == trailing {
		return
	}
	rc.TrailingLogs = trailing
	if err := r.ReloadConfig(rc); err != nil {
		n.log.Warn("could not resize the log kept behind snapshots", "entries", trailing, "err", err)
	}
}

func (n *Node) noteStored(uint64) { n.writesAtSnapshot.Store(n.writesCaptured.Load()) }

// noteRestored: the state is now a snapshot's (at start, or one the leader sent), and nothing
// applied since.
func (n *Node) noteRestored(writes uint64) {
	n.writesCaptured.Store(writes)
	n.writesAtSnapshot.Store(writes)
}

// sinceSnapshot is the number of writes applied since the newest snapshot.
func (n *Node) sinceSnapshot() uint64 {
	applied, last := n.writesApplied.Load(), n.writesAtSnapshot.Load()
	if applied <= last {
		return 0
	}
	return applied - last
}

// snapshotWhenDue takes a snapshot each time noteApplied finds the
// threshold crossed. One runs at a time; raft's own timed check may run
// beside it, and then one of the two finds nothing new to snapshot.
func (n *Node) snapshotWhenDue() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stopCh:
			return
		case <-n.snapKick:
		}
		if n.sinceSnapshot() < n.cfg.SnapshotThreshold {
			continue
		}
		start := time.Now()
		err := n.await(context.Background(), n.raft.Snapshot())
		switch {
		case err == nil:
			n.log.Info("snapshot taken", "reason", "threshold", "index", n.snaps.last.Load(), "took", time.Since(start))
			continue
		case errors.Is(err, raft.ErrNothingNewToSnapshot), errors.Is(err, ErrStopped):
			continue
		}
		n.log.Warn("snapshot failed", "err", err)
		select {
		case <-n.stopCh:
			return
		case <-time.After(snapshotRetryDelay):
		}
	}
}

// snapshotBeforeStop, on a graceful stop, takes a snapshot when more than
// StopSnapshotThreshold writes were applied since the last one, so the next
// start loads it instead of replaying them. It never takes longer than
// StopSnapshotTimeout plus abortGrace: past the timeout the FSM's capture
// is cut short (an FSM that can) or the snapshot's writes fail, its file is
// discarded, and the next start replays the log.
func (n *Node) snapshotBeforeStop() {
	since := n.sinceSnapshot()
	if since <= n.cfg.StopSnapshotThreshold {
		return
	}
	start := time.Now()
	done := make(chan error, 1)
	f := n.raft.Snapshot()
	go func() { done <- f.Error() }()
	timer := time.NewTimer(n.cfg.StopSnapshotTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		n.abortSnapshots()
		timer.Reset(abortGrace)
		select {
		case err = <-done: // nil when its last write had gone out before the abort
		case <-timer.C:
			err = errSnapshotAborted
		}
	}
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		n.log.Warn("no snapshot before stopping; the next start replays the log", "writes", since,
			"took", time.Since(start), "err", err)
		return
	}
	n.log.Info("snapshot taken", "reason", "stop", "writes", since, "index", n.snaps.last.Load(), "took", time.Since(start))
}
