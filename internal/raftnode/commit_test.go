package raftnode

import (
	"fmt"
	"testing"
	"time"
)

// A follower that raft has not yet told an entry committed commits and applies it from the
// leader's notice alone; a notice of another term is refused. The commit timeout is set long
// enough that raft's own AppendEntries cannot tell it first.
func TestLearnCommitAppliesWhatRaftHasNotToldTheFollower(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, func(cfg *Config) { cfg.commitTimeout = time.Hour })
	l := c.leader()
	f := c.nodes[c.others(l.id)[0]]
	// Raft may still send one more AppendEntries right after an entry (a replication round
	// triggered while the previous one ran), which carries the commit: write again then.
	var idx uint64
	var key string
	for try := 0; ; try++ {
		if try == 50 {
			t.Fatal("raft told the follower of every commit; the test needs one it did not")
		}
		key = fmt.Sprintf("/k%d", try)
		idx = put(t, l, key, "v")
		waitFor(t, 5*time.Second, "the follower to store the entry", func() bool { return f.n.learn.stored.Load() >= idx })
		if f.n.CommitIndex() < idx {
			break
		}
	}
	term := l.n.Term()
	if _, ok := f.n.commitRequest(term+1, idx); ok {
		t.Fatal("a notice of another term would be handed to raft")
	}
	f.n.LearnCommit(term, idx)
	waitFor(t, 5*time.Second, "the follower to apply the entry", func() bool {
		v, ok := value(f, key)
		return ok && v == "v"
	})
	if got := f.n.CommitIndex(); got != idx {
		t.Fatalf("commit index %d on the follower, want %d", got, idx)
	}
}
