package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// writer keeps writing through every member until stopped, and remembers each acknowledged
// write, so a test can check that none was lost during membership changes.
type writer struct {
	c *testcluster.Cluster
	// members is fixed when the writer starts: AddMember grows c.Members meanwhile.
	members []*testcluster.Member
	acked   sync.Map // key -> value
	n       atomic.Int64
}

func (w *writer) run(ctx context.Context, id int) {
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("/w/%d/%d", id, i)
		m := w.members[i%len(w.members)]
		if !m.Running() {
			continue
		}
		if _, err := w.c.Put(m.Index, key, key); err == nil {
			w.acked.Store(key, key)
			w.n.Add(1)
		}
	}
}

func (w *writer) verify(t *testing.T, via int) {
	t.Helper()
	r, err := w.c.Get(via, "/w", url.Values{"recursive": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, d := range r.Node.Nodes {
		for _, k := range d.Nodes {
			have[k.Key] = k.Value
		}
	}
	w.acked.Range(func(k, v any) bool {
		if have[k.(string)] != v.(string) {
			t.Errorf("acknowledged write %s lost", k)
		}
		return true
	})
}

func TestMembershipChangesWhileWriting(t *testing.T) {
	c := testcluster.New(t, 3)
	w := &writer{c: c, members: append([]*testcluster.Member(nil), c.Members...)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx, i) }()
	}

	// A learner joins, catches up, and is promoted to voter.
	l := c.AddMember(t, 0, true)
	id := c.MemberID(t, 0, l.Name)
	// Member 1 may apply the addition a moment after member 0 answered it.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms, err := c.MemberList(1)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.ID == id {
				if !m.IsLearner {
					t.Fatalf("added learner is listed as a voter: %+v", m)
				}
				return nil
			}
		}
		return fmt.Errorf("added learner %s missing from the member list %+v", id, ms)
	})
	testcluster.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		return c.MemberCall(1, http.MethodPost, id+"/promote")
	})
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		ms, err := c.MemberList(2)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.ID == id && !m.IsLearner && m.Name == l.Name {
				return nil
			}
		}
		return fmt.Errorf("promoted member not a named voter yet: %+v", ms)
	})

	// A voter joins directly, then the leader itself is removed.
	c.AddMember(t, 1, false)
	leader := c.WaitLeader(t)
	lid := c.MemberID(t, leader.Index, leader.Name)
	via := (leader.Index + 1) % len(c.Members)
	if err := c.MemberCall(via, http.MethodDelete, lid); err != nil {
		t.Fatalf("removing the leader: %v", err)
	}
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		nl := c.WaitLeader(t)
		if nl == leader {
			return fmt.Errorf("removed leader still leads")
		}
		ms, err := c.MemberList(nl.Index)
		if err != nil {
			return err
		}
		if len(ms) != 4 {
			return fmt.Errorf("want 4 members after removal, got %d", len(ms))
		}
		return nil
	})
	c.Kill(leader.Index)

	// Writes go on through the new configuration.
	before := w.n.Load()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if w.n.Load() < before+20 {
			return fmt.Errorf("only %d writes since the removal", w.n.Load()-before)
		}
		return nil
	})
	cancel()
	wg.Wait()
	w.verify(t, c.WaitLeader(t).Index)
	t.Logf("%d acknowledged writes across learner add, promotion, voter add and leader removal", w.n.Load())
}

func memberPut(t *testing.T, base, id, body, contentType string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/members/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// PUT /v2/members/<id> changes a member's peer URLs (etcd's `member update`), refusing unknown
// members, URLs another member uses, and bodies that are not JSON.
func TestMemberUpdate(t *testing.T) {
	c := testcluster.New(t, 3)
	f := c.Followers()[0]
	id := c.MemberID(t, 0, f.Name)
	other := c.Members[(f.Index+1)%3]
	alias := strings.Replace(f.PeerURL, "127.0.0.1", "localhost", 1)
	body := fmt.Sprintf(`{"peerURLs":[%q,%q]}`, f.PeerURL, alias)
	if st := memberPut(t, f.ClientURL, id, body, "application/json"); st != http.StatusNoContent {
		t.Fatalf("update: %d", st)
	}
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		ms, err := c.MemberList(other.Index)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.ID == id && len(m.PeerURLs) == 2 && m.PeerURLs[1] == alias {
				return nil
			}
		}
		return fmt.Errorf("update not visible: %+v", ms)
	})
	if _, err := c.Put(f.Index, "/after-update", "ok"); err != nil {
		t.Fatalf("cluster broken by the update: %v", err)
	}
	if st := memberPut(t, f.ClientURL, "123abc", body, "application/json"); st != http.StatusNotFound {
		t.Fatalf("unknown member: %d, want 404", st)
	}
	taken := fmt.Sprintf(`{"peerURLs":[%q]}`, other.PeerURL)
	if st := memberPut(t, f.ClientURL, id, taken, "application/json"); st != http.StatusConflict {
		t.Fatalf("peer URL of another member: %d, want 409", st)
	}
	if st := memberPut(t, f.ClientURL, id, "peerURLs=x", "application/x-www-form-urlencoded"); st != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d, want 415", st)
	}
}
