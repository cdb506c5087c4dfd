package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// placeholderPeerURL is where nothing listens: the leader cannot reach a member registered
// under it, as with a stable name that resolves elsewhere than the member's fabric address.
const placeholderPeerURL = "http://127.0.0.1:1"

// waitPeerURLs waits until member via lists the named member with exactly urls.
func waitPeerURLs(t *testing.T, c *testcluster.Cluster, via int, name string, urls ...string) {
	t.Helper()
	testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ms, err := c.MemberList(via)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Name == name && slices.Equal(m.PeerURLs, urls) {
				return nil
			}
		}
		return fmt.Errorf("member %s with peer URLs %v not listed: %+v", name, urls, ms)
	})
}

// waitValue waits until a linearizable read through member i sees value: the member has
// applied the write, so the leader replicates to it.
func waitValue(t *testing.T, c *testcluster.Cluster, i int, key, value string) {
	t.Helper()
	testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		r, err := c.Get(i, key, nil)
		if err != nil {
			return err
		}
		if r.Node == nil || r.Node.Value != value {
			return fmt.Errorf("%s through %s: %d %s", key, c.Members[i].Name, r.Status, r.Body)
		}
		return nil
	})
}

// A member added under a placeholder peer URL (its address was not known then) finds itself by
// it, sets its real one through the member API, and is replicated to there.
func TestJoinUnderPlaceholderPeerURL(t *testing.T) {
	c := testcluster.New(t, 2)
	if _, err := c.Put(0, "/before", "1"); err != nil {
		t.Fatal(err)
	}
	m := c.AddMemberRegisteredAs(t, 0, true, []string{placeholderPeerURL})
	c.WaitPublished(t, 0)
	waitPeerURLs(t, c, 0, m.Name, m.PeerURL)
	waitValue(t, c, m.Index, "/before", "1")
}

// A member that comes back on another peer address (rescheduled onto another host) updates
// its peer URL itself, and catches up with what was written while it was away.
func TestRestartOnNewPeerURL(t *testing.T) {
	c := testcluster.New(t, 3)
	f := c.Followers()[0]
	if err := c.Stop(f.Index); err != nil {
		t.Fatal(err)
	}
	other := c.Members[(f.Index+1)%3]
	if _, err := c.Put(other.Index, "/while-away", "1"); err != nil {
		t.Fatal(err)
	}
	old := f.PeerURL
	c.RestartOnNewPeerURL(f.Index)
	if f.PeerURL == old {
		t.Fatalf("the restart kept peer URL %s", old)
	}
	waitPeerURLs(t, c, other.Index, f.Name, f.PeerURL)
	waitValue(t, c, f.Index, "/while-away", "1")
	if _, err := c.Put(f.Index, "/after", "2"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, c, other.Index, "/after", "2")
}
