package server

import (
	"context"
	"errors"
	"time"

	"github.com/cairn-io/cairn/internal/raftnode"
)

// A member answers a write only once it has applied it itself, so that a serializable read or a
// watch without waitIndex that follows on the same member sees it (etcd does the same). On a
// follower that means learning the commit index promptly: the leader's commit notices
// (raftnode/commit.go) travel over the write relay, one request always open per follower.

// CommitWaiter carries a follower's commit-notice requests to the leader (node wires the peer
// relay). A request changes nothing: any failure is simply asked again, after a pause.
type CommitWaiter interface {
	// WaitCommit asks the member whose peer URL is leaderURL for its commit index and term once
	// it has applied past after. Errors wrapping ErrCommitNoticeUnsupported say that leader takes
	// no such requests.
	WaitCommit(ctx context.Context, leaderURL string, after uint64) (commit, term uint64, err error)
}

// ErrCommitNoticeUnsupported: the leader takes no commit-notice requests (an earlier build); the
// follower then learns commits from raft alone until the leader changes or noticeRetry passes.
var ErrCommitNoticeUnsupported = errors.New("the leader takes no commit-notice requests")

const (
	// noticeHold bounds how long the leader holds a commit-notice request with nothing new: the
	// follower's request stays short-lived, so a lost connection is noticed within it.
	noticeHold = time.Second
	// noticeAsk bounds one request from the follower's side.
	noticeAsk = 3 * time.Second
	// noticeRetry is how long a leader without commit notices is not asked again.
	noticeRetry = 10 * time.Second
	// leaderPoll is how often a leader looks whether it still leads, to start asking when it
	// does not.
	leaderPoll = 100 * time.Millisecond
)

// WaitApplied returns once this member has applied index, or fails when ctx ends first.
func (s *Server) WaitApplied(ctx context.Context, index uint64) error {
	if err := s.fsm.WaitApplied(ctx, index); err != nil {
		return s.timeoutErr(ctx, err)
	}
	return nil
}

// LearnCommit hands this follower's raft the commit index a leader of term reported.
func (s *Server) LearnCommit(term, commit uint64) { s.raft.LearnCommit(term, commit) }

// AppliedIndex is the last raft index this member has applied.
func (s *Server) AppliedIndex() uint64 { return s.fsm.AppliedIndex() }

// LeaderWaitCommit serves a follower's commit-notice request: once this leader has applied an
// index above after, or noticeHold has passed, its commit index and term. It fails with
// raftnode.ErrNotLeader on a follower.
func (s *Server) LeaderWaitCommit(ctx context.Context, after uint64) (commit, term uint64, err error) {
	if !s.raft.IsLeader() {
		return 0, 0, raftnode.ErrNotLeader
	}
	hold, cancel := context.WithTimeout(ctx, noticeHold)
	_ = s.fsm.WaitApplied(hold, after+1) // an expired hold answers with what there is
	cancel()
	return s.raft.LeaderCommit()
}

// noticeLoop keeps one commit-notice request open to the leader while this member follows.
func (s *Server) noticeLoop() {
	if s.cfg.CommitWaiter == nil {
		return
	}
	var after uint64
	for {
		if s.raft.IsLeader() {
			if !s.sleep(leaderPoll) {
				return
			}
			continue
		}
		ctx, cancel := s.stopContext(noticeAsk)
		leader, err := s.WaitLeader(ctx)
		var commit, term uint64
		if err == nil {
			commit, term, err = s.cfg.CommitWaiter.WaitCommit(ctx, leader, after)
		}
		cancel()
		switch {
		case err == nil:
			s.raft.LearnCommit(term, commit)
			after = max(after, commit)
		case errors.Is(err, ErrCommitNoticeUnsupported):
			if !s.sleep(noticeRetry) {
				return
			}
		default:
			if !s.sleep(retryPause) {
				return
			}
		}
	}
}
