package raftnode

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/hashicorp/raft"
)

// watchLeadership follows raft's leadership notifications. On gaining
// leadership it commits a barrier of the new term before declaring the node
// ready: until then the commit index may still be the predecessor's, and a
// read index taken from it could miss writes the old leader acknowledged.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stopCh:
			n.transition(false)
			return
		case leader := <-n.notifyCh:
			if leader {
				gen := n.transition(true)
				n.wg.Add(1)
				go n.establish(gen)
			} else {
				n.transition(false)
			}
		}
	}
}

// transition starts a new leadership generation. Leaving leadership clears
// readiness and reports false if true was reported.
func (n *Node) transition(leader bool) uint64 {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	n.leaderGen++
	n.readyTerm.Store(0)
	n.readinessChanged()
	if leader {
		n.trans.reset()
	}
	if n.reported {
		n.reported = false
		if n.cfg.OnLeadership != nil {
			n.cfg.OnLeadership(false)
		}
	}
	return n.leaderGen
}

func (n *Node) establish(gen uint64) {
	defer n.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		term := n.raft.CurrentTerm()
		err := n.await(context.Background(), n.raft.Barrier(n.cfg.ElectionTimeout))
		n.leaderMu.Lock()
		if n.leaderGen != gen || n.stopped() {
			n.leaderMu.Unlock()
			return
		}
		if err == nil && n.raft.State() == raft.Leader && n.raft.CurrentTerm() == term {
			n.readyTerm.Store(term)
			n.readinessChanged()
			n.reported = true
			if n.cfg.OnLeadership != nil {
				n.cfg.OnLeadership(true)
			}
			n.leaderMu.Unlock()
			n.log.Info("leader ready", "term", term)
			return
		}
		n.leaderMu.Unlock()
		if n.raft.State() != raft.Leader {
			// The step-down notification will start a new generation.
			return
		}
		n.log.Warn("leader barrier failed, retrying", "term", term, "error", err)
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		case <-n.stopCh:
			return
		}
	}
}

// readinessChanged wakes every waitReady to re-check. Called with leaderMu held.
func (n *Node) readinessChanged() {
	ch := make(chan struct{})
	close(*n.readyCh.Swap(&ch))
}

// waitReady waits until this leader's own-term barrier has committed and
// returns that term.
func (n *Node) waitReady(ctx context.Context) (uint64, error) {
	for {
		ch := *n.readyCh.Load()
		if t := n.readyTerm.Load(); t != 0 && t == n.raft.CurrentTerm() {
			return t, nil
		}
		if n.raft.State() != raft.Leader {
			return 0, ErrNotLeader
		}
		n.readyWaiters.Add(1)
		select {
		case <-ch:
			n.readyWaiters.Add(-1)
		case <-ctx.Done():
			n.readyWaiters.Add(-1)
			return 0, ctx.Err()
		case <-n.stopCh:
			n.readyWaiters.Add(-1)
			return 0, ErrStopped
		}
	}
}

// ReadIndex returns an index such that a state machine that has applied it
// reflects every write acknowledged before the call: the read-index
// protocol. Leader only. It takes the commit index, then confirms leadership
// with a quorum (VerifyLeader, one round shared by every read that arrives
// while the previous round is in flight), then checks the term did not move.
// The result is clamped down to the last command entry at or below the
// commit index (see Config.AppliedIndex). The caller waits for the FSM to
// apply it (fsm.WaitApplied) before serving.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if n.stopped() {
		return 0, ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	term, err := n.waitReady(ctx)
	if err != nil {
		return 0, err
	}
	commit := n.raft.CommitIndex()
	if err := n.verify.wait(ctx); err != nil {
		if err == ctx.Err() {
			return 0, err
		}
		return 0, ErrNotLeader
	}
	// A successful round confirms leadership in the current term; if that
	// is no longer the term the commit index was read in, another leader
	// may have committed in between.
	if n.raft.CurrentTerm() != term {
		return 0, ErrNotLeader
	}
	return n.lastCommandAtOrBelow(commit), nil
}

// lastCommandAtOrBelow walks back from commit over entries the FSM never
// sees (no-op, barrier, configuration) until a command entry or the FSM's
// applied index. Usually the commit index itself is a command, or the walk
// crosses one or two entries held in the log cache.
func (n *Node) lastCommandAtOrBelow(commit uint64) uint64 {
	if n.cfg.AppliedIndex == nil {
		return commit
	}
	applied := n.cfg.AppliedIndex()
	var l raft.Log
	for i := commit; i > applied; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			// Compacted: a snapshot at or above i exists, so the FSM has
			// already applied every command up to i.
			return n.cfg.AppliedIndex()
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return applied
}

// confirmLeadership is one round: raft's VerifyLeader, which makes the
// leader heartbeat every follower at once and succeeds on a quorum of
// replies, then a stricter check of our own. raft counts any reply that
// arrives after the round registered, even one to a heartbeat sent before
// the round began (seen in tests right after a partition), so the round also
// waits until a quorum of voters acknowledged a request sent after its start;
// the heartbeats VerifyLeader triggered normally provide that at once.
func (n *Node) confirmLeadership() error {
	start := time.Now()
	term := n.raft.CurrentTerm()
	if err := n.await(context.Background(), n.raft.VerifyLeader()); err != nil {
		return err
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	var others []raft.ServerID
	voters, self := 0, false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(s.ID) == n.cfg.ID {
			self = true
		} else {
			others = append(others, s.ID)
		}
	}
	need := voters/2 + 1
	if self {
		need--
	}
	timer := time.NewTimer(n.cfg.HeartbeatTimeout)
	defer timer.Stop()
	for {
		got, changed := n.trans.ackedSince(others, term, start)
		if got >= need {
			if n.raft.CurrentTerm() != term {
				return ErrNotLeader
			}
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return ErrNotLeader
		case <-n.stopCh:
			return ErrStopped
		}
	}
}

// verifier batches confirmation rounds. A read joins the next round that
// starts after it arrived, never one already in flight (that round may have
// collected its votes before the read took its commit index).
type verifier struct {
	confirm func() error // one leadership confirmation round
	rounds  atomic.Uint64
	m       *metrics.Set

	mu       sync.Mutex
	inFlight bool
	next     *round
}

type round struct {
	done  chan struct{}
	err   error
	reads int // reads waiting on this round, for the batch-size histogram
}

func (v *verifier) wait(ctx context.Context) error {
	v.mu.Lock()
	r := v.next
	if r == nil {
		r = &round{done: make(chan struct{})}
		v.next = r
	}
	r.reads++
	if !v.inFlight {
		v.startLocked()
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *verifier) startLocked() {
	r := v.next
	v.next = nil
	v.inFlight = true
	v.rounds.Add(1)
	if v.m != nil {
		v.m.ReadIndexRounds.Inc()
		v.m.ReadIndexBatch.Observe(float64(r.reads))
	}
	go func() {
		r.err = v.confirm()
		close(r.done)
		v.mu.Lock()
		v.inFlight = false
		if v.next != nil {
			v.startLocked()
		}
		v.mu.Unlock()
	}()
}
