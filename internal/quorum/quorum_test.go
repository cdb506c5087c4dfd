package quorum

// End-to-end tests: the real client against real servers over loopback UDP. The servers
// read from memSource because the node that implements Source is built elsewhere; once it
// exists, these scenarios must also run against a real three-node cluster.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	cquorum "github.com/cairn-io/cairn/client/quorum"
)

type testCluster struct {
	servers []*Server
	sources []*memSource
	peers   []string
}

// startCluster runs one server per source, all with the same membership and leader.
func startCluster(t *testing.T, sources ...*memSource) *testCluster {
	t.Helper()
	c := &testCluster{sources: sources}
	var members []Member
	for _, src := range sources {
		members = append(members, Member{Name: src.name, Role: "follower",
			PeerURLs: []string{"http://" + src.name + ":2380"}, ClientURLs: []string{"http://" + src.name + ":2379"}})
	}
	members[0].Role = "leader"
	for _, src := range sources {
		src.members = members
		src.leader, src.leaderURL = members[0].Name, members[0].ClientURLs[0]
		s := startServer(t, Config{}, src)
		c.servers = append(c.servers, s)
		c.peers = append(c.peers, s.Addr().String())
	}
	return c
}

func sameState(index uint64, names ...string) []*memSource {
	var out []*memSource
	for _, n := range names {
		src := newMemSource(n, index)
		src.set("/cfg/a", "1", index-1)
		out = append(out, src)
	}
	return out
}

func newTestClient(t *testing.T, key []byte, peers []string, cb func(cquorum.Upcall), opts ...cquorum.Option) *cquorum.Client {
	t.Helper()
	c, err := cquorum.NewClient(key, peers, cb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func query(t *testing.T, c *cquorum.Client, req cquorum.Request, into any) cquorum.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Query(ctx, req)
	if err != nil {
		t.Fatalf("Query(%v %q): %v", req.Type, req.Query, err)
	}
	if into != nil {
		if err := r.Decode(into); err != nil {
			t.Fatalf("decode %s: %v", r.Answer, err)
		}
	}
	return r
}

func TestQueryEveryType(t *testing.T) {
	cl := startCluster(t, sameState(10, "n1", "n2", "n3")...)
	c := newTestClient(t, testKey, cl.peers, nil)

	var pong bool
	if r := query(t, c, cquorum.Request{Type: cquorum.QueryPing}, &pong); !pong || r.Index != 10 {
		t.Errorf("ping: %v at index %d", pong, r.Index)
	}
	var key cquorum.KeyAnswer
	query(t, c, cquorum.Request{Type: cquorum.QueryKey, Query: "/cfg/a"}, &key)
	if key != (cquorum.KeyAnswer{Key: "/cfg/a", Found: true, Value: "1", ModifiedIndex: 9}) {
		t.Errorf("key: %+v", key)
	}
	query(t, c, cquorum.Request{Type: cquorum.QueryKey, Query: "/nope"}, &key)
	if key.Found {
		t.Errorf("missing key found: %+v", key)
	}
	var leader cquorum.LeaderAnswer
	query(t, c, cquorum.Request{Type: cquorum.QueryLeader}, &leader)
	if leader != (cquorum.LeaderAnswer{Known: true, Name: "n1", URL: "http://n1:2379"}) {
		t.Errorf("leader: %+v", leader)
	}
	var members []cquorum.Member
	query(t, c, cquorum.Request{Type: cquorum.QueryMembers}, &members)
	if len(members) != 3 || members[0].Name != "n1" || members[0].Role != "leader" || members[2].ClientURLs[0] != "http://n3:2379" {
		t.Errorf("members: %+v", members)
	}
	var role cquorum.NodeRoleAnswer
	query(t, c, cquorum.Request{Type: cquorum.QueryNodeRole, Query: "n2"}, &role)
	if role != (cquorum.NodeRoleAnswer{Name: "n2", Found: true, Role: "follower"}) {
		t.Errorf("node role: %+v", role)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Query(ctx, cquorum.Request{Type: 77})
	if !errors.Is(err, cquorum.ErrStatus) || r.Status != cquorum.StatusNotImplemented {
		t.Errorf("unknown type: status %v, err %v; want not-implemented and ErrStatus", r.Status, err)
	}
}

// A member cut off from the leader still answers, with its older index and value. Any
// NeededReplies(3) = 2 replies include a fresh member, whose higher index must win.
func TestLaggingMemberNeverWins(t *testing.T) {
	srcs := sameState(20, "n1", "n2")
	stale := newMemSource("n3", 12)
	stale.set("/cfg/a", "old", 11)
	srcs = append(srcs, stale)
	for _, s := range srcs[:2] {
		s.set("/cfg/a", "new", 19)
	}
	cl := startCluster(t, srcs...)

	var mu sync.Mutex
	lagSeen := 0
	c := newTestClient(t, testKey, cl.peers, func(u cquorum.Upcall) {
		mu.Lock()
		defer mu.Unlock()
		if u.Reply.Node == "n3" {
			lagSeen++
		}
	})
	for i := 0; i < 30; i++ {
		var a cquorum.KeyAnswer
		r := query(t, c, cquorum.Request{Type: cquorum.QueryKey, Query: "/cfg/a"}, &a)
		if a.Value != "new" || r.Index != 20 || r.Node == "n3" {
			t.Fatalf("round %d: got %q at index %d from %s; the lagging member won", i, a.Value, r.Index, r.Node)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if lagSeen == 0 {
		t.Log("the lagging member never replied among the first two; the race was not exercised")
	}
}

func TestTooFewMembersFailsClearly(t *testing.T) {
	cl := startCluster(t, sameState(5, "n1", "n2", "n3")...)
	for _, s := range cl.servers[1:] {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := newTestClient(t, testKey, cl.peers, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := c.Query(ctx, cquorum.Request{Type: cquorum.QueryKey, Query: "/cfg/a"})
	if !errors.Is(err, cquorum.ErrNotEnoughReplies) {
		t.Fatalf("Query with 1 of 3 members up: reply %+v, err %v; want ErrNotEnoughReplies", r, err)
	}
	if !strings.Contains(err.Error(), "1 of 3") || !strings.Contains(err.Error(), "2 needed") {
		t.Errorf("error does not say what happened: %v", err)
	}
	if r.Answer != "" {
		t.Errorf("a lone member's answer was returned: %+v", r)
	}
}

func TestWrongKeyGetsNoAnswer(t *testing.T) {
	cl := startCluster(t, sameState(5, "n1", "n2", "n3")...)
	bad := newTestClient(t, []byte("wrong key"), cl.peers, func(u cquorum.Upcall) {
		t.Errorf("upcall for a client with the wrong key: %+v", u)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := bad.Query(ctx, cquorum.Request{Type: cquorum.QueryPing}); !errors.Is(err, cquorum.ErrNotEnoughReplies) {
		t.Fatalf("wrong key: err %v, want ErrNotEnoughReplies", err)
	}
	for _, s := range cl.servers {
		waitFor(t, "BadMAC counted", func() bool { return s.Stats().BadMAC == 1 && s.Stats().Answered == 0 })
	}
	good := newTestClient(t, testKey, cl.peers, nil)
	query(t, good, cquorum.Request{Type: cquorum.QueryPing}, nil)
}

// One member lies: same index, different value. Its answer is not passed up as news, and
// the salt is marked incoherent.
func TestLyingMemberIsDetected(t *testing.T) {
	srcs := sameState(30, "n1", "n2", "liar")
	srcs[2].set("/cfg/a", "forged", 29)
	cl := startCluster(t, srcs...)

	var mu sync.Mutex
	var raw, passed []cquorum.Upcall
	filter := cquorum.NewFilterCallback(func(u cquorum.Upcall) {
		mu.Lock()
		defer mu.Unlock()
		passed = append(passed, u)
	}, nil)
	c := newTestClient(t, testKey, cl.peers, func(u cquorum.Upcall) {
		mu.Lock()
		raw = append(raw, u)
		mu.Unlock()
		filter.Handle(u)
	})
	salt, err := c.SendRequest(cquorum.Request{Type: cquorum.QueryKey, Query: "/cfg/a"}, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(raw)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 3 replies arrived", n)
		}
		c.ReceiveReply(time.Until(deadline))
	}
	if coherent, known := filter.Coherent(salt); coherent || !known {
		t.Fatalf("Coherent = %v, %v with a lying member; want false, true", coherent, known)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(passed) != 1 {
		t.Fatalf("%d answers passed up, want only the first", len(passed))
	}
}

func TestWaitForReplies(t *testing.T) {
	cl := startCluster(t, sameState(5, "n1", "n2", "n3")...)
	var mu sync.Mutex
	got := map[string]int{}
	c := newTestClient(t, testKey, cl.peers, func(u cquorum.Upcall) {
		mu.Lock()
		got[u.Salt]++
		mu.Unlock()
	})
	salt, err := c.SendRequest(cquorum.Request{Type: cquorum.QueryPing}, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	// Queued, not sent: WaitForReplies flushes the queue before waiting.
	timedOut, sent, received := c.WaitForReplies(salt, 5*time.Second)
	if timedOut || sent != 3 || received < 2 {
		t.Fatalf("WaitForReplies = %v, %d, %d; want false, 3, >=2", timedOut, sent, received)
	}
	mu.Lock()
	n := got[salt]
	mu.Unlock()
	if n != received {
		t.Fatalf("callback saw %d replies, WaitForReplies counted %d", n, received)
	}

	if timedOut, sent, received := c.WaitForReplies("unknown", time.Second); !timedOut || sent != 0 || received != 0 {
		t.Fatalf("unknown salt: %v, %d, %d; want true, 0, 0", timedOut, sent, received)
	}
}
