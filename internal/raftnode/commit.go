package raftnode

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Commit notices: getting the commit index to a follower without waiting for raft's next
// AppendEntries.
//
// hashicorp/raft tells a follower the commit index only in the next AppendEntries it sends it,
// which goes out with new entries or after CommitTimeout; its heartbeats carry none (they are
// kept free of the follower's disk). Nothing public makes the leader send one sooner short of
// appending an entry, which costs an fsync on every member. A much shorter CommitTimeout costs
// empty AppendEntries all the time, idle or not (docs/performance.md has the figures).
//
// So the leader's commit index travels beside raft (the caller carries it over the write relay,
// see internal/relay/commit.go) and the follower hands it to its own raft as the AppendEntries
// the leader would have sent: no entries, the leader's term, LeaderCommitIndex set, and a
// previous entry that raft checks against its log like any other. The previous entry is one of
// this follower's own entries written in that same term: only that term's leader wrote it, so
// the follower's log matches the leader's up to it, and up to every later entry of the term.
// Raft commits min(commit, last index), all of it the leader's committed entries; if anything
// does not hold (another term, a log that has moved on, this node no longer a follower), raft's
// own checks refuse the request and it changes nothing. Safety stays raft's: this only decides
// when raft hears of a commit index that the leader has already reached.

// commitLearner holds the newest notice and wakes the loop that hands it to raft.
type commitLearner struct {
	mu     sync.Mutex
	term   uint64
	commit uint64

	stored atomic.Uint64 // the last index written to the log here
	wake   chan struct{}
}

func newCommitLearner() *commitLearner { return &commitLearner{wake: make(chan struct{}, 1)} }

func (l *commitLearner) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// logStored is called after every log append: a notice that named entries this follower did not
// have yet can now take effect up to them.
func (l *commitLearner) logStored(last uint64) {
	l.stored.Store(last) // raft appends in order: the latest call has the log's end
	l.mu.Lock()
	pending := l.commit > 0
	l.mu.Unlock()
	if pending {
		l.signal()
	}
}

// LeaderCommit is the commit index and term this leader reports to followers. It fails with
// ErrNotLeader on a follower.
func (n *Node) LeaderCommit() (commit, term uint64, err error) {
	term = n.raft.CurrentTerm()
	commit = n.raft.CommitIndex()
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return 0, 0, ErrNotLeader
	}
	return commit, term, nil
}

// LearnCommit hands this follower the commit index the leader of term reported (LeaderCommit
// there). It returns at once; raft learns it as soon as this follower's log holds entries of
// that term.
func (n *Node) LearnCommit(term, commit uint64) {
	l := n.learn
	l.mu.Lock()
	if term > l.term || term == l.term && commit > l.commit {
		l.term, l.commit = term, commit
	}
	l.mu.Unlock()
	l.signal()
}

// learnLoop hands notices to raft one at a time, each as one AppendEntries on the transport's
// consumer channel, and waits for raft's answer before the next.
func (n *Node) learnLoop() {
	defer n.wg.Done()
	l := n.learn
	for {
		select {
		case <-n.stopCh:
			return
		case <-l.wake:
		}
		l.mu.Lock()
		term, commit := l.term, l.commit
		l.mu.Unlock()
		req, ok := n.commitRequest(term, commit)
		if !ok {
			continue
		}
		done := make(chan raft.RPCResponse, 1)
		select {
		case n.trans.consumer <- raft.RPC{Command: req, RespChan: done}:
		case <-n.stopCh:
			return
		}
		select {
		case <-done:
		case <-n.stopCh:
			return
		}
	}
}

// commitRequest builds the AppendEntries that tells raft of commit, or false when it would
// change nothing or could not pass raft's checks.
func (n *Node) commitRequest(term, commit uint64) (*raft.AppendEntriesRequest, bool) {
	if term == 0 || n.raft.State() != raft.Follower || n.raft.CurrentTerm() != term || n.raft.CommitIndex() >= commit {
		return nil, false
	}
	last := max(n.raft.LastIndex(), n.learn.stored.Load())
	prev := min(commit, last)
	if prev <= n.raft.CommitIndex() {
		return nil, false
	}
	var e raft.Log
	if err := n.logs.GetLog(prev, &e); err != nil || e.Term != term {
		return nil, false
	}
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return nil, false
	}
	return &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id),
			Addr: n.trans.EncodePeer(id, addr)},
		Term:              term,
		PrevLogEntry:      prev,
		PrevLogTerm:       term,
		LeaderCommitIndex: commit,
	}, true
}
