package raftnode

import (
	"fmt"
	"testing"
	"time"
)

// A follower cut off right after it stored an entry, before raft told it the entry committed,
// commits and applies it from the leader's notice alone; a notice of another term is refused.
func TestLearnCommitAppliesWhatRaftHasNotToldTheFollower(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
		// Long enough that the cut-off follower does not start an election during the test.
		cfg.HeartbeatTimeout = 3 * time.Second
		cfg.ElectionTimeout = 3 * time.Second
	})
	l := c.leader()
	var f *tnode
	for _, id := range c.others(l.id) {
		f = c.nodes[id]
		break
	}
	// The leader sends the commit index with its next AppendEntries, at most 2*CommitTimeout
	// later: cut the follower off in that window. A few tries, in case it comes first.
	var idx uint64
	var key string
	for try := 0; ; try++ {
		if try == 20 {
			t.Fatal("the follower learned every commit from raft before it could be cut off")
		}
		key = fmt.Sprintf("/k%d", try)
		idx = put(t, l, key, "v")
		waitFor(t, 5*time.Second, "the follower to store the entry", func() bool { return f.n.learn.stored.Load() >= idx })
		c.cut.isolate(f.id, c.others(f.id)...)
		if f.n.CommitIndex() < idx {
			break
		}
		c.cut.heal()
	}
	term := l.n.Term()
	if _, ok := f.n.commitRequest(term+1, idx); ok {
		t.Fatal("a notice of another term would be handed to raft")
	}
	f.n.LearnCommit(term, idx)
	waitFor(t, 2*time.Second, "the follower to apply the entry", func() bool {
		v, ok := value(f, key)
		return ok && v == "v"
	})
	if got := f.n.CommitIndex(); got != idx {
		t.Fatalf("commit index %d on the follower, want %d", got, idx)
	}
}
