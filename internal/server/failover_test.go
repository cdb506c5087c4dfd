package server_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

func TestKillLeaderElectsNewLeaderAndWritesContinue(t *testing.T) {
	c := testcluster.New(t, 3)
	old := c.WaitLeader(t)
	if _, err := c.Put(old.Index, "/before", "1"); err != nil {
		t.Fatal(err)
	}
	c.Kill(old.Index)
	killed := time.Now()
	var survivor int
	for _, m := range c.Members {
		if m.Running() {
			survivor = m.Index
		}
	}
	// A write sent to a survivor succeeds once a new leader is in place: a few election
	// timeouts (1s each here), far below this bound.
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Put(survivor, "/after", "2")
		return err
	})
	t.Logf("writes resumed %v after the leader was killed", time.Since(killed))
	nl := c.WaitLeader(t)
	if nl == old {
		t.Fatalf("killed leader %s still counted as leader", old.Name)
	}
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		r, err := c.Get(m.Index, "/before", nil)
		if err != nil || r.Node.Value != "1" {
			t.Fatalf("%s lost /before: %v %+v", m.Name, err, r)
		}
	}
}

func TestFollowerForwardsWritesAndServesLinearizableReads(t *testing.T) {
	c := testcluster.New(t, 3)
	f := c.Followers()[0]
	for i := 0; i < 20; i++ {
		r, err := c.Put(f.Index, fmt.Sprintf("/k%d", i), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Get("X-Raft-Index") == "" || r.Header.Get("X-Raft-Term") == "" {
			t.Fatalf("forwarded write lacks raft headers: %v", r.Header)
		}
	}
	// A linearizable read on any member right after the write sees it.
	for _, m := range c.Members {
		r, err := c.Put(c.WaitLeader(t).Index, "/lin", m.Name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.Get(m.Index, "/lin", nil)
		if err != nil {
			t.Fatal(err)
		}
		if g.Node.Value != m.Name || g.Node.ModifiedIndex != r.Node.ModifiedIndex {
			t.Fatalf("%s served a stale linearizable read: %+v after write %+v", m.Name, g.Node, r.Node)
		}
	}
}

func TestRestartEveryNodeKeepsAllData(t *testing.T) {
	c := testcluster.New(t, 3)
	const n = 50
	for i := 0; i < n; i++ {
		if _, err := c.Put(i%3, fmt.Sprintf("/r/%d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.Members {
		if err := c.Stop(i); err != nil {
			t.Fatalf("stop %d: %v", i, err)
		}
	}
	for i := range c.Members {
		c.Restart(i)
	}
	c.WaitLeader(t)
	for _, m := range c.Members {
		testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			r, err := c.Get(m.Index, "/r", url.Values{"recursive": {"true"}})
			if err != nil {
				return err
			}
			if len(r.Node.Nodes) != n {
				return fmt.Errorf("%s has %d keys, want %d", m.Name, len(r.Node.Nodes), n)
			}
			return nil
		})
	}
}
