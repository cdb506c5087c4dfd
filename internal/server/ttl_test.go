package server_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// TTLs follow the leader's clock carried in the log: a change of leader neither expires a key
// early nor keeps it, and every member expires it at the same index.
func TestTTLSurvivesLeaderChange(t *testing.T) {
	c := testcluster.New(t, 3)
	l := c.WaitLeader(t)
	set := time.Now()
	// The TTL outlasts any leader change a loaded machine takes, so the key must still be
	// there when the new leader is asked: the early-expiry check always runs.
	const ttl = 8 * time.Second
	r, err := c.Do(l.Index, "PUT", "/ttl", nil, url.Values{"value": {"v"}, "ttl": {fmt.Sprint(int(ttl.Seconds()))}})
	if err != nil || r.Err != nil {
		t.Fatalf("set: %v %v", err, r.Err)
	}
	c.Kill(l.Index)
	nl := c.WaitLeader(t)
	asked := time.Now()
	g, err := c.Get(nl.Index, "/ttl", nil)
	if left := ttl - asked.Sub(set); left < 2*time.Second {
		t.Fatalf("the leader change took %v of the key's %v TTL: too slow to tell an early expiry", asked.Sub(set), ttl)
	}
	if err != nil || g.Node.TTL < 1 {
		t.Fatalf("key expired early after the leader change (%v after set): %v %+v", asked.Sub(set), err, g)
	}
	var expiredAt string
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		g, err := c.Do(nl.Index, "GET", "/ttl", nil, nil)
		if err != nil {
			return err
		}
		if g.Err == nil {
			return fmt.Errorf("still there")
		}
		if g.Err.ErrorCode != api.CodeKeyNotFound {
			return g.Err
		}
		expiredAt = g.Header.Get("X-Etcd-Index")
		return nil
	})
	if d := time.Since(set); d < ttl {
		t.Fatalf("key expired after %v, before its %v TTL", d, ttl)
	}
	// The other survivor saw the same expiry event at the same index.
	for _, m := range c.Members {
		if !m.Running() || m == nl {
			continue
		}
		testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			w, err := c.Get(m.Index, "/ttl", url.Values{"wait": {"true"}, "waitIndex": {fmt.Sprint(r.Node.ModifiedIndex + 1)}})
			if err != nil {
				return err
			}
			if w.Action != "expire" || fmt.Sprint(w.Node.ModifiedIndex) != expiredAt {
				return fmt.Errorf("%s: %s at %d, leader expired at %s", m.Name, w.Action, w.Node.ModifiedIndex, expiredAt)
			}
			return nil
		})
	}
}
