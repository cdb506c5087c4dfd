package server_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// An old leader cut off from the majority must not answer a linearizable read from its own,
// now stale, state; neither may a follower in the minority. Both fail after a bounded wait.
func TestMinorityPartitionRefusesWritesAndStaleReads(t *testing.T) {
	c := testcluster.New(t, 3)
	old := c.WaitLeader(t)
	if _, err := c.Put(old.Index, "/k", "v1"); err != nil {
		t.Fatal(err)
	}
	c.Isolate(old.Index)

	// The majority elects a new leader and moves on.
	var maj int
	for _, m := range c.Members {
		if m != old {
			maj = m.Index
		}
	}
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Put(maj, "/k", "v2")
		return err
	})

	// The isolated old leader: writes fail, linearizable reads fail, nothing stale comes back.
	start := time.Now()
	r, err := c.Put(old.Index, "/k", "minority")
	if err == nil {
		t.Fatalf("write on the minority side succeeded: %+v", r)
	}
	if r == nil || r.Err == nil || r.Err.ErrorCode != api.CodeRaftInternal && r.Err.ErrorCode != api.CodeLeaderElect {
		t.Fatalf("minority write: want error 300 or 301, got %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("minority write took %v: not bounded by the request timeout", d)
	}
	g, err := c.Get(old.Index, "/k", nil)
	if err == nil {
		t.Fatalf("old leader served a linearizable read while cut off: %+v", g.Node)
	}
	g, err = c.Get(old.Index, "/k", url.Values{"quorum": {"true"}})
	if err == nil {
		t.Fatalf("old leader served a quorum read while cut off: %+v", g.Node)
	}
	// Serializable reads are local by design: they may be stale, and say what they have.
	g, err = c.Get(old.Index, "/k", url.Values{"consistency": {"serializable"}})
	if err != nil || g.Node.Value != "v1" {
		t.Fatalf("serializable read on the minority: %v %+v", err, g)
	}

	// After healing, the old leader catches up and serves the majority's value.
	c.Heal()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		g, err := c.Get(old.Index, "/k", nil)
		if err != nil {
			return err
		}
		if g.Node.Value != "v2" {
			t.Fatalf("after heal %s serves %q, want v2", old.Name, g.Node.Value)
		}
		return nil
	})
}

func TestIsolatedFollowerRefusesLinearizableRead(t *testing.T) {
	c := testcluster.New(t, 3)
	f := c.Followers()[0]
	if _, err := c.Put(f.Index, "/k", "v1"); err != nil {
		t.Fatal(err)
	}
	c.Isolate(f.Index)
	l := c.WaitLeader(t)
	if _, err := c.Put(l.Index, "/k", "v2"); err != nil {
		t.Fatal(err)
	}
	if g, err := c.Get(f.Index, "/k", nil); err == nil {
		t.Fatalf("isolated follower answered a linearizable read: %+v", g.Node)
	}
	if _, err := c.Put(f.Index, "/k", "v3"); err == nil {
		t.Fatal("isolated follower accepted a write")
	}
}
