package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// On SIGTERM the leader hands leadership to a live voter first, so the cluster does not wait
// for an election timeout; and a leader with no live follower stops at once.
func TestGracefulStopHandsOffLeadership(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(3*time.Second))
	l := c.WaitLeader(t)
	start := time.Now()
	if err := c.Stop(l.Index); err != nil {
		t.Fatal(err)
	}
	var nl *testcluster.Member
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		nl = c.WaitLeader(t)
		return nil
	})
	// Without a hand-off the survivors would wait at least one election timeout (3s) to notice.
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("new leader %s only after %v: no prompt hand-off", nl.Name, d)
	}
	// Stop the remaining follower, then the last voter: with nobody to hand off to, the stop
	// must not wait seconds.
	for _, m := range c.Members {
		if m.Running() && m != nl {
			c.Kill(m.Index)
		}
	}
	start = time.Now()
	if err := c.Stop(nl.Index); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("stopping a leader without live followers took %v", d)
	}
}

func TestLeaderStatsOnlyOnLeader(t *testing.T) {
	c := testcluster.New(t, 3)
	l := c.WaitLeader(t)
	resp, err := http.Get(l.ClientURL + "/v2/stats/leader")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("leader stats on the leader: %s", resp.Status)
	}
	f := c.Followers()[0]
	resp, err = http.Get(f.ClientURL + "/v2/stats/leader")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("leader stats on a follower: %s, want 403", resp.Status)
	}
}

func TestSelfStatsCountAppendTraffic(t *testing.T) {
	c := testcluster.New(t, 3)
	l := c.WaitLeader(t)
	if _, err := c.Put(l.Index, "/traffic", "x"); err != nil {
		t.Fatal(err)
	}
	type self struct {
		State       string   `json:"state"`
		Recv        uint64   `json:"recvAppendRequestCnt"`
		Send        uint64   `json:"sendAppendRequestCnt"`
		SendPkgRate *float64 `json:"sendPkgRate"`
		RecvPkgRate *float64 `json:"recvPkgRate"`
	}
	get := func(m *testcluster.Member) self {
		resp, err := http.Get(m.ClientURL + "/v2/stats/self")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s self
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	testcluster.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		ls := get(l)
		if ls.State != "StateLeader" || ls.Send == 0 || ls.SendPkgRate == nil || ls.RecvPkgRate != nil {
			return fmt.Errorf("leader stats %+v", ls)
		}
		fs := get(c.Followers()[0])
		if fs.State != "StateFollower" || fs.Recv == 0 || fs.RecvPkgRate == nil || *fs.RecvPkgRate <= 0 {
			return fmt.Errorf("follower stats %+v", fs)
		}
		return nil
	})
}
