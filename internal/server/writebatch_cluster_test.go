package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// Concurrent writes through every member of a cluster at LevelBatch share raft entries, and
// every member ends with the same keys at the same store indexes, each write with an index of
// its own.
func TestConcurrentWritesShareEntriesAndEveryMemberAgrees(t *testing.T) {
	c := testcluster.New(t, 3)
	l := c.WaitLeader(t)
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, m := range c.Members {
			if lv := m.Node().FSM().ClusterLevel(); lv != fsm.LevelBatch {
				return fmt.Errorf("%s at level %v", m.Name, lv)
			}
		}
		return nil
	})
	before := l.Node().FSM().AppliedIndex()

	const writers, each = 48, 20
	indexes := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := c.Put(w%3, fmt.Sprintf("/batch/w%d/k%d", w, i), fmt.Sprint(i))
				if err != nil || r.Err != nil || r.Node == nil {
					t.Errorf("writer %d, write %d: %v %+v", w, i, err, r)
					return
				}
				indexes[w] = append(indexes[w], r.Node.ModifiedIndex)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[uint64]string{}
	for w, idx := range indexes {
		for i, x := range idx {
			if prev, dup := seen[x]; dup {
				t.Fatalf("writer %d write %d answered index %d, as did %s", w, i, x, prev)
			}
			seen[x] = fmt.Sprintf("writer %d write %d", w, i)
		}
	}
	entries := l.Node().FSM().AppliedIndex() - before
	if entries >= writers*each/2 {
		t.Errorf("%d writes took %d raft entries: concurrent writes did not share entries", writers*each, entries)
	}
	t.Logf("%d writes in %d raft entries", writers*each, entries)

	want := l.Node().FSM().AppliedIndex()
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, m := range c.Members {
			if got := m.Node().FSM().AppliedIndex(); got < want {
				return fmt.Errorf("%s applied %d of %d", m.Name, got, want)
			}
		}
		return nil
	})
	for w, idx := range indexes {
		for i, x := range idx {
			key := fmt.Sprintf("/batch/w%d/k%d", w, i)
			for _, m := range c.Members {
				ev, err := m.Node().FSM().Store().Get(key, false, false, time.Now())
				if err != nil || ev.Node.ModifiedIndex != x || *ev.Node.Value != fmt.Sprint(i) {
					t.Fatalf("%s on %s: %+v, %v; the writer was answered index %d", key, m.Name, ev, err, x)
				}
			}
		}
	}
}
