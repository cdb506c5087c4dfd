package server_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// putUntilDone writes through member i, asking again while a leader change refuses or times
// the write out: the value written is the same, so a write that took effect before an error
// changes nothing.
func putUntilDone(t *testing.T, c *testcluster.Cluster, i int, key string, form url.Values) *testcluster.Response {
	t.Helper()
	var r *testcluster.Response
	testcluster.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		var err error
		r, err = c.Do(i, "PUT", key, nil, form)
		if err == nil && r.Err != nil {
			err = r.Err
		}
		return err
	})
	return r
}

// A member answers a write only once it has applied it: a serializable read on the follower
// that took the write sees it, every time, also across a change of leader.
func TestFollowerReadsItsOwnWrites(t *testing.T) {
	for _, change := range []bool{false, true} {
		t.Run(fmt.Sprintf("leader change %v", change), func(t *testing.T) {
			c := testcluster.New(t, 3)
			l := c.WaitLeader(t)
			f := c.Followers()[0]
			for i := range 1000 {
				if change && i == 500 {
					c.Kill(l.Index)
				}
				v := fmt.Sprint(i)
				putUntilDone(t, c, f.Index, "/ryw", url.Values{"value": {v}})
				g, err := c.Get(f.Index, "/ryw", url.Values{"consistency": {"serializable"}})
				if err != nil {
					t.Fatalf("pair %d: read: %v", i, err)
				}
				if g.Node.Value != v {
					t.Fatalf("pair %d: stale read on %s: %q after writing %q there", i, f.Name, g.Node.Value, v)
				}
			}
		})
	}
}

// A watch started on a follower right after a TTL write it answered starts after that write:
// it gets the expiry, not the write itself, also when the leader changes meanwhile.
func TestWatchAfterTTLWriteOnFollowerGetsExpire(t *testing.T) {
	for _, change := range []bool{false, true} {
		t.Run(fmt.Sprintf("leader change %v", change), func(t *testing.T) {
			c := testcluster.New(t, 3)
			l := c.WaitLeader(t)
			f := c.Followers()[0]
			for i := range 5 {
				key := fmt.Sprintf("/ttl%d", i)
				w := putUntilDone(t, c, f.Index, key, url.Values{"value": {"v"}, "ttl": {"1"}})
				got := make(chan *testcluster.Response, 1)
				errs := make(chan error, 1)
				go func() {
					r, err := c.Get(f.Index, key, url.Values{"wait": {"true"}})
					if err != nil {
						errs <- err
						return
					}
					got <- r
				}()
				if change && i == 0 {
					c.Kill(l.Index)
				}
				select {
				case err := <-errs:
					t.Fatalf("watch %s: %v", key, err)
				case r := <-got:
					if r.Action != "expire" || r.Node.ModifiedIndex <= w.Node.ModifiedIndex {
						t.Fatalf("watch %s started after the write (index %d) got %s at %d, want its expiry",
							key, w.Node.ModifiedIndex, r.Action, r.Node.ModifiedIndex)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("watch %s: no event", key)
				}
			}
		})
	}
}
