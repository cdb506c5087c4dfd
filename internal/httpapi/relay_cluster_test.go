package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

var digits = regexp.MustCompile(`[0-9]+`)

// TestFollowerWritesAnswerAsTheLeaders runs the same writes on the leader and through a
// follower, each under its own prefix: the answers agree in status, headers and body, up to
// the indexes (the two writes are different entries) and the answering node's name.
func TestFollowerWritesAnswerAsTheLeaders(t *testing.T) {
	c := testcluster.New(t, 3)
	leader := c.WaitLeader(t)
	follower := c.Followers()[0]
	ops := []struct {
		method, key string
		query, form url.Values
	}{
		{"PUT", "/a", nil, url.Values{"value": {"one"}}},
		{"PUT", "/a", nil, url.Values{"value": {"two"}}},
		{"PUT", "/a", url.Values{"prevValue": {"two"}, "noValueOnSuccess": {"true"}}, url.Values{"value": {"three"}}},
		{"PUT", "/a", url.Values{"prevValue": {"nope"}}, url.Values{"value": {"x"}}},
		{"PUT", "/a", url.Values{"prevExist": {"false"}}, url.Values{"value": {"x"}}},
		{"POST", "/q", nil, url.Values{"value": {"item"}}},
		{"PUT", "/d", url.Values{"dir": {"true"}}, nil},
		{"DELETE", "/d", nil, nil},
		{"DELETE", "/d", url.Values{"dir": {"true"}}, nil},
		{"DELETE", "/missing", nil, nil},
	}
	norm := func(r *testcluster.Response, prefix string) string {
		var hs []string
		for k, v := range r.Header {
			if k == "Date" || k == "X-Cairn-Node" {
				continue
			}
			hs = append(hs, k+"="+digits.ReplaceAllString(strings.Join(v, ","), "N"))
		}
		sort.Strings(hs)
		body := strings.ReplaceAll(string(r.Body), prefix, "/P")
		return fmt.Sprintf("%d %s %s", r.Status, hs, digits.ReplaceAllString(body, "N"))
	}
	for _, op := range ops {
		var got [2]string
		for i, via := range []struct {
			m      *testcluster.Member
			prefix string
		}{{leader, "/L"}, {follower, "/F"}} {
			r, err := c.Do(via.m.Index, op.method, via.prefix+op.key, op.query, op.form)
			if err != nil {
				t.Fatalf("%s %s via %s: %v", op.method, op.key, via.m.Name, err)
			}
			got[i] = norm(r, via.prefix)
		}
		if got[0] != got[1] {
			t.Errorf("%s %s %v: answers differ\nleader:   %s\nfollower: %s", op.method, op.key, op.query, got[0], got[1])
		}
	}
}

// outcome is what one POST of a unique value came back with.
type outcome struct {
	value  string
	status int
	body   string
	after  bool // sent after the fault
}

// writeThroughFault keeps writers POSTing unique values through the given members, applies
// fault once writes flow, and stops once every writer has had successes after it. It then
// checks what the cluster holds: no value twice, every acknowledged value once.
func writeThroughFault(t *testing.T, c *testcluster.Cluster, via []*testcluster.Member, fault, heal func()) {
	t.Helper()
	const writers = 8
	var (
		mu       sync.Mutex
		outcomes []outcome
		faulted  bool
		okAfter  = make([]int, writers)
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := via[w%len(via)]
			for i := 0; ctx.Err() == nil; i++ {
				mu.Lock()
				after := faulted
				mu.Unlock()
				v := fmt.Sprintf("w%d-%d", w, i)
				r, err := c.Do(m.Index, "POST", "/q", nil, url.Values{"value": {v}})
				o := outcome{value: v, after: after}
				if err != nil {
					o.body = err.Error()
				} else {
					o.status, o.body = r.Status, string(r.Body)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				if after && o.status == http.StatusCreated {
					okAfter[w]++
				}
				done := true
				for _, n := range okAfter {
					done = done && n >= 5
				}
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	testcluster.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(outcomes) < 100 {
			return fmt.Errorf("%d writes so far", len(outcomes))
		}
		return nil
	})
	fault()
	mu.Lock()
	faulted = true
	mu.Unlock()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("writes did not resume through %d followers after the fault: %v successes each", len(via), okAfter)
	}
	if heal != nil {
		heal()
	}

	leader := c.WaitLeader(t)
	var held map[string]int
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		r, err := c.Get(leader.Index, "/q", url.Values{"recursive": {"true"}})
		if err != nil {
			return err
		}
		held = map[string]int{}
		for _, n := range r.Node.Nodes {
			held[n.Value]++
		}
		return nil
	})
	var failed, unknown int
	for _, o := range outcomes {
		switch n := held[o.value]; {
		case n > 1:
			t.Errorf("%s was written %d times", o.value, n)
		case o.status == http.StatusCreated && n != 1:
			t.Errorf("%s was acknowledged but is not held", o.value)
		case o.status != http.StatusCreated:
			failed++
			// Every failure is an etcd error the client can read, never a dropped connection.
			var e struct {
				ErrorCode int `json:"errorCode"`
			}
			if json.Unmarshal([]byte(o.body), &e) != nil || (e.ErrorCode != 300 && e.ErrorCode != 301) {
				t.Errorf("%s failed without an etcd error: %d %s", o.value, o.status, o.body)
			}
			if n == 1 {
				unknown++ // failed to the client, applied all the same: allowed, outcome was unknown
			}
		}
	}
	t.Logf("%d writes, %d failed around the fault (%d of those applied all the same)", len(outcomes), failed, unknown)
}

func TestRelayedWritesAcrossLeaderKill(t *testing.T) {
	c := testcluster.New(t, 3)
	leader := c.WaitLeader(t)
	writeThroughFault(t, c, c.Followers(), func() { c.Kill(leader.Index) }, nil)
}

func TestRelayedWritesAcrossLeaderPartition(t *testing.T) {
	c := testcluster.New(t, 3)
	leader := c.WaitLeader(t)
	writeThroughFault(t, c, c.Followers(), func() { c.Isolate(leader.Index) }, c.Heal)
}

// relayConns counts each member's open relay connections by the peer address they go to,
// from the marker byte that opens them.
type relayConns struct {
	mu   sync.Mutex
	open map[[2]string]int // {from member, to address}
}

type watchedConn struct {
	net.Conn
	rc       *relayConns
	key      [2]string
	once     sync.Once
	relay    bool
	closeOne sync.Once
}

func (w *watchedConn) Write(p []byte) (int, error) {
	w.once.Do(func() {
		if len(p) > 0 && p[0] == 0xCB {
			w.relay = true
			w.rc.mu.Lock()
			w.rc.open[w.key]++
			w.rc.mu.Unlock()
		}
	})
	return w.Conn.Write(p)
}

func (w *watchedConn) Close() error {
	w.closeOne.Do(func() {
		w.once.Do(func() {}) // a connection closed before its first write is not a relay one
		if w.relay {
			w.rc.mu.Lock()
			w.rc.open[w.key]--
			w.rc.mu.Unlock()
		}
	})
	return w.Conn.Close()
}

func (rc *relayConns) count(from, to string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.open[[2]string{from, to}]
}

func TestFollowerRelayConnectionsFollowTheLeader(t *testing.T) {
	rc := &relayConns{open: map[[2]string]int{}}
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		dial, name := cfg.PeerDial, cfg.Name
		cfg.PeerDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &watchedConn{Conn: conn, rc: rc, key: [2]string{name, addr}}, nil
		}
	}))
	peerAddr := func(m *testcluster.Member) string { return strings.TrimPrefix(m.PeerURL, "http://") }
	old := c.WaitLeader(t)
	for _, f := range c.Followers() {
		if _, err := c.Put(f.Index, "/before/"+f.Name, "x"); err != nil {
			t.Fatal(err)
		}
		if rc.count(f.Name, peerAddr(old)) == 0 {
			t.Fatalf("%s wrote through the leader without a relay connection to it", f.Name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.Node().Raft().TransferLeadership(ctx); err != nil {
		t.Fatal(err)
	}
	var nl *testcluster.Member
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if nl = c.WaitLeader(t); nl == old {
			return fmt.Errorf("%s still leads", old.Name)
		}
		return nil
	})
	var f *testcluster.Member
	for _, m := range c.Members {
		if m != old && m != nl {
			f = m
		}
	}
	// The old leader is alive and keeps its end open: only the follower can let go.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := c.Put(f.Index, "/after", "y")
		return err
	})
	if n := rc.count(f.Name, peerAddr(nl)); n == 0 {
		t.Fatalf("%s has no relay connection to the new leader %s", f.Name, nl.Name)
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := rc.count(f.Name, peerAddr(old)); n != 0 {
			return fmt.Errorf("%s still holds %d relay connections to the old leader %s", f.Name, n, old.Name)
		}
		return nil
	})
}
