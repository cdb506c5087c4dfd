package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	wire "github.com/cairn-io/cairn/api/quorum"
	cquorum "github.com/cairn-io/cairn/client/quorum"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/quorum"
	"github.com/cairn-io/cairn/internal/testcluster"
)

var testKey = []byte("quorum-test-key")

func newQuorumCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	return testcluster.New(t, 3, testcluster.WithQuorum(testKey))
}

func newQuorumClient(t *testing.T, key []byte, peers []string, cb func(cquorum.Upcall)) *cquorum.Client {
	t.Helper()
	c, err := cquorum.NewClient(key, peers, cb, cquorum.WithExpiry(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func query(t *testing.T, c *cquorum.Client, typ cquorum.QueryType, q string) (cquorum.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Query(ctx, cquorum.Request{Type: typ, Query: q})
}

// waitApplied waits until every running member has applied at least index.
func waitApplied(t *testing.T, c *testcluster.Cluster, index uint64, members ...int) {
	t.Helper()
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, i := range members {
			if got := c.Members[i].Node().FSM().AppliedIndex(); got < index {
				return fmt.Errorf("%s applied %d, want >= %d", c.Members[i].Name, got, index)
			}
		}
		return nil
	})
}

func appliedOf(c *testcluster.Cluster, i int) uint64 { return c.Members[i].Node().FSM().AppliedIndex() }

func TestQuorumEveryQueryType(t *testing.T) {
	c := newQuorumCluster(t)
	leader := c.WaitLeader(t)
	put, err := c.Put(leader.Index, "/cfg/a", "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(leader.Index, http.MethodPut, "/dir", nil, map[string][]string{"dir": {"true"}}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, c, appliedOf(c, leader.Index), 0, 1, 2)
	// Members publish their names through the log; wait until every node knows all three.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, m := range c.Members {
			for _, mi := range m.Node().Server().Members() {
				if mi.Name == "" || len(mi.ClientURLs) == 0 {
					return fmt.Errorf("%s does not know member %x's attributes yet", m.Name, mi.ID)
				}
			}
		}
		return nil
	})
	qc := newQuorumClient(t, testKey, c.QuorumAddrs(), nil)

	t.Run("ping", func(t *testing.T) {
		// Every member answers, each under its own name.
		seen := map[string]bool{}
		for _, m := range c.Members {
			one := newQuorumClient(t, testKey, []string{m.QuorumAddr()}, nil)
			r, err := query(t, one, cquorum.QueryPing, "")
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			if r.Answer != "true" || r.Node != m.Name || r.Index == 0 {
				t.Fatalf("%s answered %+v", m.Name, r)
			}
			seen[r.Node] = true
		}
		if len(seen) != 3 {
			t.Fatalf("replies from %v", seen)
		}
	})

	t.Run("key", func(t *testing.T) {
		r, err := query(t, qc, cquorum.QueryKey, "/cfg/a")
		if err != nil {
			t.Fatal(err)
		}
		var a cquorum.KeyAnswer
		if err := r.Decode(&a); err != nil {
			t.Fatal(err)
		}
		want := cquorum.KeyAnswer{Key: "/cfg/a", Found: true, Value: "one", ModifiedIndex: put.Node.ModifiedIndex}
		if a != want {
			t.Fatalf("got %+v, want %+v", a, want)
		}
		if r.Index < put.Node.ModifiedIndex {
			t.Fatalf("reply index %d below the key's modifiedIndex %d", r.Index, put.Node.ModifiedIndex)
		}

		r, err = query(t, qc, cquorum.QueryKey, "/cfg/missing")
		if err != nil {
			t.Fatal(err)
		}
		a = cquorum.KeyAnswer{}
		if err := r.Decode(&a); err != nil || a != (cquorum.KeyAnswer{Key: "/cfg/missing"}) {
			t.Fatalf("missing key: %+v, %v", a, err)
		}

		for _, bad := range []string{"/dir", "no-slash"} {
			r, err = query(t, qc, cquorum.QueryKey, bad)
			if !errors.Is(err, cquorum.ErrStatus) || r.Status != cquorum.StatusError {
				t.Fatalf("%s: got %+v, %v; want a status error", bad, r, err)
			}
		}
		if !strings.Contains(r.Answer, "no-slash") {
			t.Fatalf("error answer %q does not name the key", r.Answer)
		}
	})

	t.Run("leader", func(t *testing.T) {
		r, err := query(t, qc, cquorum.QueryLeader, "")
		if err != nil {
			t.Fatal(err)
		}
		var a cquorum.LeaderAnswer
		if err := r.Decode(&a); err != nil {
			t.Fatal(err)
		}
		want := cquorum.LeaderAnswer{Known: true, Name: leader.Name, URL: leader.ClientURL}
		if a != want {
			t.Fatalf("got %+v, want %+v", a, want)
		}
	})

	t.Run("members and roles", func(t *testing.T) {
		r, err := query(t, qc, cquorum.QueryMembers, "")
		if err != nil {
			t.Fatal(err)
		}
		var ms []cquorum.Member
		if err := r.Decode(&ms); err != nil {
			t.Fatal(err)
		}
		if len(ms) != 3 {
			t.Fatalf("members %+v", ms)
		}
		for i, m := range ms {
			cm := c.Members[i] // sorted by name: n1, n2, n3
			role := "follower"
			if cm == leader {
				role = "leader"
			}
			if m.Name != cm.Name || m.Role != role || len(m.PeerURLs) != 1 || m.PeerURLs[0] != cm.PeerURL ||
				len(m.ClientURLs) != 1 || m.ClientURLs[0] != cm.ClientURL {
				t.Fatalf("member %d: %+v, want %s role %s peer %s client %s", i, m, cm.Name, role, cm.PeerURL, cm.ClientURL)
			}
		}
		for _, m := range c.Members {
			r, err := query(t, qc, cquorum.QueryNodeRole, m.Name)
			if err != nil {
				t.Fatal(err)
			}
			var a cquorum.NodeRoleAnswer
			if err := r.Decode(&a); err != nil || !a.Found || a.Name != m.Name || (a.Role == "leader") != (m == leader) {
				t.Fatalf("role of %s: %+v, %v", m.Name, a, err)
			}
		}
		r, err = query(t, qc, cquorum.QueryNodeRole, "nobody")
		var a cquorum.NodeRoleAnswer
		if err != nil || r.Decode(&a) != nil || a.Found {
			t.Fatalf("unknown member: %+v, %+v, %v", r, a, err)
		}
	})

	t.Run("learner", func(t *testing.T) {
		learner := c.AddMember(t, leader.Index, true)
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			r, err := query(t, qc, cquorum.QueryNodeRole, learner.Name)
			if err != nil {
				return err
			}
			var a cquorum.NodeRoleAnswer
			if err := r.Decode(&a); err != nil {
				return err
			}
			if !a.Found || a.Role != "learner" {
				return fmt.Errorf("role answer %+v", a)
			}
			return nil
		})
		// The joined member serves quorum queries too.
		one := newQuorumClient(t, testKey, []string{learner.QuorumAddr()}, nil)
		if r, err := query(t, one, cquorum.QueryPing, ""); err != nil || r.Node != learner.Name {
			t.Fatalf("learner ping: %+v, %v", r, err)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(leader.ClientURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `cairn_quorum_replies_total{status="ok",type="ping"}`) {
			t.Fatalf("no quorum reply counter on /metrics:\n%s", b)
		}
	})
}

// A follower cut off from the leader keeps answering from its old state, with its old index;
// the client must prefer the fresh majority every time.
func TestQuorumLaggingNodeNeverWins(t *testing.T) {
	c := newQuorumCluster(t)
	leader := c.WaitLeader(t)
	if _, err := c.Put(leader.Index, "/k", "old"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, c, appliedOf(c, leader.Index), 0, 1, 2)
	lag := c.Followers()[0]
	c.Isolate(lag.Index)
	var fresh []int
	for _, m := range c.Members {
		if m != lag {
			fresh = append(fresh, m.Index)
		}
	}
	// The isolated follower may have forced an election; write through whoever leads now.
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		for _, i := range fresh {
			if c.Members[i].IsLeader() {
				_, err := c.Put(i, "/k", "new")
				return err
			}
		}
		return errors.New("no leader among the majority")
	})
	var index uint64
	for _, i := range fresh {
		index = max(index, appliedOf(c, i))
	}
	waitApplied(t, c, index, fresh...)
	if got := appliedOf(c, lag.Index); got >= index {
		t.Fatalf("isolated %s applied %d, not behind the majority's %d", lag.Name, got, index)
	}

	check := func(t *testing.T, peers []string) {
		lagSeen := 0
		cb := func(u cquorum.Upcall) {
			if u.Kind == cquorum.UpcallReply && u.Reply.Node == lag.Name {
				lagSeen++
			}
		}
		qc := newQuorumClient(t, testKey, peers, cb)
		// At least 10 queries, and on until the lagging node's reply has been seen at least once
		// (with all three asked, the two fresh replies can win the race many times in a row on a
		// loaded machine), for at most 200.
		for i := 0; i < 10 || lagSeen == 0 && i < 200; i++ {
			r, err := query(t, qc, cquorum.QueryKey, "/k")
			if err != nil {
				t.Fatal(err)
			}
			var a cquorum.KeyAnswer
			if err := r.Decode(&a); err != nil {
				t.Fatal(err)
			}
			if r.Node == lag.Name || a.Value != "new" || r.Index < index {
				t.Fatalf("stale answer won: %+v (%+v); majority index %d", r, a, index)
			}
		}
		if lagSeen == 0 {
			t.Fatalf("the lagging node never replied: the test proved nothing")
		}
	}
	// Two peers need both replies, so the stale one is always among them.
	t.Run("lagging and one fresh", func(t *testing.T) {
		check(t, []string{lag.QuorumAddr(), c.Members[fresh[0]].QuorumAddr()})
	})
	t.Run("all three", func(t *testing.T) { check(t, c.QuorumAddrs()) })
}

func TestQuorumTwoOfThreeDownFailsClearly(t *testing.T) {
	c := newQuorumCluster(t)
	leader := c.WaitLeader(t)
	// One stops gracefully, one crashes: both must release their quorum port.
	var stopped *testcluster.Member
	for _, m := range c.Members {
		switch {
		case m == leader:
		case stopped == nil:
			stopped = m
			if err := c.Stop(m.Index); err != nil {
				t.Fatal(err)
			}
		default:
			c.Kill(m.Index)
		}
	}
	qc := newQuorumClient(t, testKey, c.QuorumAddrs(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := qc.Query(ctx, cquorum.Request{Type: cquorum.QueryPing})
	if !errors.Is(err, cquorum.ErrNotEnoughReplies) {
		t.Fatalf("Query with one of three members up: %+v, %v", r, err)
	}
	if !strings.Contains(err.Error(), "1 of 3 members asked replied, 2 needed") {
		t.Fatalf("error does not say what happened: %v", err)
	}
	// The member that is up did answer: the failure is the missing majority, not the client.
	one := newQuorumClient(t, testKey, []string{leader.QuorumAddr()}, nil)
	if _, err := query(t, one, cquorum.QueryPing, ""); err != nil {
		t.Fatal(err)
	}
	// A restarted member serves again on its address, and two of three suffice.
	c.Restart(stopped.Index)
	if _, err := query(t, qc, cquorum.QueryPing, ""); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}

func TestQuorumWrongKeyGetsNoAnswer(t *testing.T) {
	c := newQuorumCluster(t)
	wrong := newQuorumClient(t, []byte("not-the-key"), c.QuorumAddrs(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if r, err := wrong.Query(ctx, cquorum.Request{Type: cquorum.QueryKey, Query: "/k"}); !errors.Is(err, cquorum.ErrNotEnoughReplies) {
		t.Fatalf("wrong key: %+v, %v", r, err)
	}
	for _, m := range c.Members {
		if s := m.Node().QuorumStats(); s.BadMAC != 1 || s.Answered != 0 {
			t.Fatalf("%s stats %+v, want one bad HMAC and no answer", m.Name, s)
		}
	}
	// The nodes are unharmed.
	if _, err := query(t, newQuorumClient(t, testKey, c.QuorumAddrs(), nil), cquorum.QueryPing, ""); err != nil {
		t.Fatal(err)
	}
}

func TestQuorumReplayedPacketDropped(t *testing.T) {
	c := newQuorumCluster(t)
	m := c.Members[0]
	codec, err := wire.NewCodec(testKey)
	if err != nil {
		t.Fatal(err)
	}
	req := wire.Request{Timestamp: time.Now().UnixNano(), Type: wire.QueryPing}
	copy(req.Salt[:], "replayed-salt-16")
	pkt, err := codec.AppendRequest(nil, &req)
	if err != nil {
		t.Fatal(err)
	}
	raddr, err := net.ResolveUDPAddr("udp", m.QuorumAddr())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, wire.MaxDatagram)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("first packet got no reply: %v", err)
	}
	var reply wire.Reply
	if err := codec.DecodeReply(buf[:n], &reply); err != nil || reply.Salt != req.Salt {
		t.Fatalf("reply %+v, %v", reply, err)
	}

	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	testcluster.CheckFor(t, 3*time.Second, 10*time.Millisecond, func() error {
		if s := m.Node().QuorumStats(); s.Replayed != 1 || s.Answered != 1 {
			return fmt.Errorf("stats %+v, want one replay dropped and one answer", s)
		}
		return nil
	})
	// The server counts the drop before it would have answered, so a reply would be here now.
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("replayed packet answered with %d bytes", n)
	}
}

// liar answers like a member at the real cluster's index, but with a value of its own.
type liar struct {
	index func() uint64
	value string
}

func (l liar) Name() string                                { return "liar" }
func (l liar) AppliedIndex() uint64                        { return l.index() }
func (l liar) Leader() (string, string, bool)              { return "", "", false }
func (l liar) Members() []quorum.Member                    { return nil }
func (l liar) GetKey(string) (string, uint64, bool, error) { return l.value, 1, true, nil }

func TestQuorumIncoherentAnswersDetected(t *testing.T) {
	c := newQuorumCluster(t)
	leader := c.WaitLeader(t)
	if _, err := c.Put(leader.Index, "/k", "truth"); err != nil {
		t.Fatal(err)
	}
	// The liar claims the members' own index: equal indexes with different answers is what
	// honest members cannot produce.
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if a, b, c := appliedOf(c, 0), appliedOf(c, 1), appliedOf(c, 2); a != b || b != c {
			return fmt.Errorf("applied indexes %d %d %d", a, b, c)
		}
		return nil
	})
	ls, err := quorum.New(quorum.Config{ListenAddr: "127.0.0.1:0", Key: testKey},
		liar{index: c.Members[0].Node().FSM().AppliedIndex, value: "lie"})
	if err != nil {
		t.Fatal(err)
	}
	go ls.Serve(context.Background())
	t.Cleanup(func() { ls.Close() })

	// Query: with one real member and the liar both replies are needed, and they disagree.
	qc := newQuorumClient(t, testKey, []string{c.Members[0].QuorumAddr(), ls.Addr().String()}, nil)
	if r, err := query(t, qc, cquorum.QueryKey, "/k"); !errors.Is(err, cquorum.ErrIncoherent) {
		t.Fatalf("liar not detected: %+v, %v", r, err)
	}

	// FilterCallback, asking every real member and the liar: the salt is marked incoherent.
	var passed []cquorum.Upcall
	filter := cquorum.NewFilterCallback(func(u cquorum.Upcall) { passed = append(passed, u) }, nil)
	all := append(c.QuorumAddrs(), ls.Addr().String())
	replies := 0
	fc := newQuorumClient(t, testKey, all, func(u cquorum.Upcall) { replies++; filter.Handle(u) })
	salt, err := fc.SendRequest(cquorum.Request{Type: cquorum.QueryKey, Query: "/k"}, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	// WaitForReplies stops at NeededReplies; read until every member, the liar included, replied.
	testcluster.CheckFor(t, 3*time.Second, time.Millisecond, func() error {
		fc.ReceiveReply(50 * time.Millisecond)
		if replies < len(all) {
			return fmt.Errorf("%d of %d replies", replies, len(all))
		}
		return nil
	})
	coherent, known := filter.Coherent(salt)
	if !known || coherent {
		t.Fatalf("coherent=%v known=%v after a lie at the same index", coherent, known)
	}
	for i := 1; i < len(passed); i++ {
		if passed[i].Reply.Index <= passed[i-1].Reply.Index {
			t.Fatalf("filter passed up %+v after %+v", passed[i].Reply, passed[i-1].Reply)
		}
	}

	// Honest members alone stay coherent.
	hc := newQuorumClient(t, testKey, c.QuorumAddrs(), nil)
	if _, err := query(t, hc, cquorum.QueryKey, "/k"); err != nil {
		t.Fatal(err)
	}
}

func TestQuorumOffWithoutKey(t *testing.T) {
	c := testcluster.New(t, 1)
	if addr, ok := c.Members[0].Node().QuorumAddr(); ok {
		t.Fatalf("quorum server on %v without a key file", addr)
	}
}

func TestQuorumStartErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.key")
	good := filepath.Join(dir, "good.key")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	os.WriteFile(good, testKey, 0o600)
	busy, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name, url, keyFile, want string
		dataDirMade              bool
	}{
		{"missing key file", "", filepath.Join(dir, "nope.key"), `--quorum-hmac-key-file: quorum: HMAC key file "` + filepath.Join(dir, "nope.key") + `" does not exist`, false},
		{"empty key file", "", empty, "--quorum-hmac-key-file: quorum: HMAC key file " + `"` + empty + `" is empty`, false},
		{"unreadable key file", "", dir, "--quorum-hmac-key-file: quorum: cannot read HMAC key file", false},
		{"wrong scheme", "http://127.0.0.1:2381", good, "--listen-quorum-url: invalid URL \"http://127.0.0.1:2381\": scheme must be udp", false},
		{"bad port", "udp://127.0.0.1:99999", good, "--listen-quorum-url: invalid URL", false},
		{"path", "udp://127.0.0.1:2381/x", good, "--listen-quorum-url: invalid URL", false},
		{"bad URL without a key", "udp//x", "", "--listen-quorum-url: invalid URL", false},
		{"port in use", "udp://" + busy.LocalAddr().String(), good, "--listen-quorum-url: quorum: listen on", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			cfg := node.Config{Name: "n1", DataDir: data, ListenQuorumURL: tc.url, QuorumHMACKeyFile: tc.keyFile,
				ClientListener: listenTCP(t), PeerListener: listenTCP(t)}
			cfg.ListenPeerURLs = []string{"http://" + cfg.PeerListener.Addr().String()}
			cfg.ListenClientURLs = []string{"http://" + cfg.ClientListener.Addr().String()}
			n, err := node.Start(cfg)
			if err == nil {
				n.Kill()
				t.Fatal("node started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			// Flag errors are found before the node touches its data directory.
			if _, serr := os.Stat(data); (serr == nil) != tc.dataDirMade {
				t.Fatalf("data directory exists: %v, want %v", serr == nil, tc.dataDirMade)
			}
		})
	}
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Every member publishes its quorum port in the cluster view, so that each member's view,
// followers' included, tells a client where to send quorum queries; a member without quorum
// queries publishes none.
func TestQuorumPortInClusterView(t *testing.T) {
	c := newQuorumCluster(t)
	want := map[string]int{}
	for _, m := range c.Members {
		_, port, err := net.SplitHostPort(m.QuorumAddr())
		if err != nil {
			t.Fatal(err)
		}
		want[m.Name], _ = strconv.Atoi(port)
	}
	for _, viewer := range c.Members {
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			got, err := quorumPorts(viewer.ClientURL)
			if err != nil {
				return err
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("%s's view has quorum ports %v, want %v", viewer.Name, got, want)
			}
			return nil
		})
	}

	off := testcluster.New(t, 1)
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		got, err := quorumPorts(off.Members[0].ClientURL)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[off.Members[0].Name] != 0 {
			return fmt.Errorf("without quorum queries the view has ports %v", got)
		}
		return nil
	})
}

func quorumPorts(clientURL string) (map[string]int, error) {
	resp, err := http.Get(clientURL + "/v1/cluster/members")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms api.ClusterMembers
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range ms.Members {
		out[m.ServerName] = m.QuorumPort
	}
	return out, nil
}

// While the cluster is at the baseline level no member entry carries a quorum port (a
// baseline member would refuse the entry); once the cluster version rises, every member
// publishes its port.
func TestQuorumPortWaitsForTheClusterVersion(t *testing.T) {
	// The leader's periodic look is held off, so that the version rises only with the auth
	// write below.
	c := testcluster.New(t, 3, testcluster.WithQuorum(testKey),
		testcluster.WithConfig(func(_ int, cfg *node.Config) { cfg.VersionCheckInterval = time.Hour }))
	leader := c.WaitLeader(t)
	c.WaitPublished(t, leader.Index)
	for _, m := range c.Members {
		if l := m.Node().FSM().ClusterLevel(); l != fsm.LevelBaseline {
			t.Fatalf("%s at cluster level %v before any raise", m.Name, l)
		}
		for _, fm := range m.Node().FSM().Members() {
			if fm.QuorumPort != 0 {
				t.Fatalf("%s holds a member entry with quorum port %d at the baseline level", m.Name, fm.QuorumPort)
			}
		}
	}
	// An auth write has the leader read every member's level and raise the version.
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		status, body, err := c.AuthCall(leader.Index, http.MethodPut, "/v2/auth/roles/app", `{"role":"app"}`, "", "")
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("create a role: %d %s %v", status, body, err)
		}
		return nil
	})
	for _, viewer := range c.Members {
		testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
			got, err := quorumPorts(viewer.ClientURL)
			if err != nil {
				return err
			}
			for name, port := range got {
				if port == 0 {
					return fmt.Errorf("%s's view has no quorum port for %s yet", viewer.Name, name)
				}
			}
			return nil
		})
	}
}
