package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/relay"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
)

// fakeBackend is a node without raft: a leader answers Propose from a script, a follower
// refuses it and names the leader. Methods these tests never reach stay nil and would panic.
type fakeBackend struct {
	Backend
	name    string
	leader  string // WaitLeader's answer
	ready   chan struct{}
	mu      sync.Mutex
	propose func(ctx context.Context, cmd *fsm.Command) (*store.Event, error)
	cmds    []*fsm.Command
	// readIndex answers LeaderReadIndex; nil: not leader.
	readIndex func(ctx context.Context) (uint64, error)
	// applied is AppliedIndex; appliedCh closes when it changes.
	applied   uint64
	appliedCh chan struct{}
}

// AuthState is a cluster that never turned auth on.
func (f *fakeBackend) AuthState() *auth.State { return auth.Empty() }

func (f *fakeBackend) LearnCommit(term, commit uint64) {}

func (f *fakeBackend) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *fakeBackend) setApplied(i uint64) {
	f.mu.Lock()
	f.applied = i
	if f.appliedCh != nil {
		close(f.appliedCh)
	}
	f.appliedCh = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeBackend) WaitApplied(ctx context.Context, i uint64) error {
	for {
		f.mu.Lock()
		if f.appliedCh == nil {
			f.appliedCh = make(chan struct{})
		}
		done, ch := f.applied >= i, f.appliedCh
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", server.ErrTimeout, ctx.Err())
		}
	}
}

func newFake(name string) *fakeBackend {
	f := &fakeBackend{name: name, ready: make(chan struct{}), applied: 4711}
	close(f.ready)
	return f
}

func (f *fakeBackend) Name() string                 { return f.name }
func (f *fakeBackend) ClusterID() uint64            { return 0xc0ffee }
func (f *fakeBackend) RaftStatus() (uint64, uint64) { return f.AppliedIndex(), 3 }
func (f *fakeBackend) Ready() <-chan struct{}       { return f.ready }
func (f *fakeBackend) WaitLeader(ctx context.Context) (string, error) {
	return f.leader, nil
}

func (f *fakeBackend) Propose(ctx context.Context, cmd *fsm.Command) (*store.Event, error) {
	f.mu.Lock()
	p := f.propose
	if p != nil {
		c := *cmd
		f.cmds = append(f.cmds, &c)
	}
	f.mu.Unlock()
	if p == nil {
		return nil, raftnode.ErrNotLeader
	}
	return p(ctx, cmd)
}

func (f *fakeBackend) LeaderReadIndex(ctx context.Context) (uint64, error) {
	f.mu.Lock()
	ri := f.readIndex
	f.mu.Unlock()
	if ri == nil {
		return 0, raftnode.ErrNotLeader
	}
	return ri(ctx)
}

// script sets what Propose answers and forgets earlier proposals.
func (f *fakeBackend) script(p func(ctx context.Context, cmd *fsm.Command) (*store.Event, error)) {
	f.mu.Lock()
	f.propose, f.cmds = p, nil
	f.mu.Unlock()
}

func (f *fakeBackend) proposed() []*fsm.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fsm.Command(nil), f.cmds...)
}

func strp(s string) *string { return &s }

// relayRig is a leader serving both relays on loopback and two followers in front of it: one
// relaying over HTTP as before, one over the binary relay.
type relayRig struct {
	leader, oldF, newF *fakeBackend
	relaySrv           *relay.Server
	oldClient, newBase string
}

func newRelayRig(t *testing.T) *relayRig {
	t.Helper()
	cfg := Config{RequestTimeout: 2 * time.Second}
	leader := newFake("leader")
	peer := NewPeer(leader, cfg)
	peerHTTP := httptest.NewServer(peer)
	t.Cleanup(peerHTTP.Close)
	leader.leader = peerHTTP.URL

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := peer.RelayServer()
	go func() { _ = rs.Serve(ln) }()
	t.Cleanup(func() { ln.Close(); rs.Close() })

	oldF := newFake("follower")
	oldF.leader = peerHTTP.URL
	oldSrv := httptest.NewServer(New(oldF, cfg))
	t.Cleanup(oldSrv.Close)

	rc := relay.NewClient(relay.ClientConfig{ClusterID: leader.ClusterID(), Dial: func(ctx context.Context, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	}})
	t.Cleanup(rc.Close)
	newF := newFake("follower")
	newF.leader = peerHTTP.URL
	ncfg := cfg
	ncfg.Relay = rc
	newSrv := httptest.NewServer(New(newF, ncfg))
	t.Cleanup(newSrv.Close)
	return &relayRig{leader: leader, oldF: oldF, newF: newF, relaySrv: rs, oldClient: oldSrv.URL, newBase: newSrv.URL}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func send(t *testing.T, base, method, path, query, form string) answer {
	t.Helper()
	u := base + "/v2/keys" + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Del("Date")
	return answer{resp.StatusCode, resp.Header, b}
}

// TestRelayAnswersAreTheHTTPRelays sends the same writes through a follower that relays over
// HTTP (the earlier path) and one that relays over the binary relay: status, every header
// and the body must be byte for byte the same, and so must the command the leader proposed.
func TestRelayAnswersAreTheHTTPRelays(t *testing.T) {
	rig := newRelayRig(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := []struct {
		name                string
		method, path, query string
		form                string
		ev                  *store.Event
		err                 error
	}{
		{"create", "PUT", "/a", "", "value=v", &store.Event{Action: store.Set, EtcdIndex: 5,
			Node: &store.NodeExtern{Key: "/a", Value: strp("v"), ModifiedIndex: 5, CreatedIndex: 5}}, nil},
		{"update with ttl", "PUT", "/a", "", "value=%3Cw%3E+%26+%C3%A9&ttl=60", &store.Event{Action: store.Set, EtcdIndex: 6,
			Node:     &store.NodeExtern{Key: "/a", Value: strp("<w> & é"), Expiration: &exp, TTL: 60, ModifiedIndex: 6, CreatedIndex: 5},
			PrevNode: &store.NodeExtern{Key: "/a", Value: strp("v"), ModifiedIndex: 5, CreatedIndex: 5}}, nil},
		{"noValueOnSuccess", "PUT", "/a", "noValueOnSuccess=true&prevValue=v", "value=x", &store.Event{Action: store.CompareAndSwap, EtcdIndex: 7,
			Node:     &store.NodeExtern{Key: "/a", Value: strp("x"), ModifiedIndex: 7, CreatedIndex: 5},
			PrevNode: &store.NodeExtern{Key: "/a", Value: strp("v"), ModifiedIndex: 5, CreatedIndex: 5}}, nil},
		{"post", "POST", "/q", "", "value=1", &store.Event{Action: store.Create, EtcdIndex: 8,
			Node: &store.NodeExtern{Key: "/q/00000000000000000008", Value: strp("1"), ModifiedIndex: 8, CreatedIndex: 8}}, nil},
		{"delete dir", "DELETE", "/d", "dir=true&recursive=true", "", &store.Event{Action: store.Delete, EtcdIndex: 9,
			Node:     &store.NodeExtern{Key: "/d", Dir: true, ModifiedIndex: 9, CreatedIndex: 3},
			PrevNode: &store.NodeExtern{Key: "/d", Dir: true, ModifiedIndex: 3, CreatedIndex: 3}}, nil},
		{"key not found", "DELETE", "/nope", "", "", nil, &store.Error{Err: store.ErrKeyNotFound, Cause: "/nope", Index: 9}},
		{"compare failed", "PUT", "/a", "prevIndex=2", "value=y", nil, &store.Error{Err: store.ErrTestFailed, Cause: "[2 != 7]", Index: 9}},
		{"timeout", "PUT", "/a", "", "value=z", nil, fmt.Errorf("%w: slow disk", server.ErrTimeout)},
		{"leadership lost", "PUT", "/a", "", "value=z", nil, raftnode.ErrLeadershipLost},
	}
	for _, c := range cases {
		rig.leader.script(func(context.Context, *fsm.Command) (*store.Event, error) { return c.ev, c.err })
		old := send(t, rig.oldClient, c.method, c.path, c.query, c.form)
		nw := send(t, rig.newBase, c.method, c.path, c.query, c.form)
		if old.status != nw.status || !bytes.Equal(old.body, nw.body) || fmt.Sprint(old.header) != fmt.Sprint(nw.header) {
			t.Errorf("%s: answers differ\nHTTP relay:   %d %v %q\nbinary relay: %d %v %q", c.name,
				old.status, old.header, old.body, nw.status, nw.header, nw.body)
		}
		cmds := rig.leader.proposed()
		if len(cmds) != 2 {
			t.Fatalf("%s: leader proposed %d commands, want one per relay", c.name, len(cmds))
		}
		cmds[0].Time, cmds[1].Time = 0, 0
		if a, b := cmds[0].Marshal(), cmds[1].Marshal(); !bytes.Equal(a, b) {
			t.Errorf("%s: proposed commands differ: %+v vs %+v", c.name, cmds[0], cmds[1])
		}
	}
}

// TestRelayRetriesOnlyWhenNothingWasProposed: a leader that was not leader is asked again; a
// leader lost with the request in hand is not, and the client gets the HTTP relay's error.
func TestRelayRetriesOnlyWhenNothingWasProposed(t *testing.T) {
	rig := newRelayRig(t)
	rig.leader.script(func(context.Context, *fsm.Command) (*store.Event, error) {
		if len(rig.leader.proposed()) < 3 {
			return nil, raftnode.ErrNotLeader
		}
		return &store.Event{Action: store.Set, EtcdIndex: 2, Node: &store.NodeExtern{Key: "/k", Value: strp("v"), ModifiedIndex: 2, CreatedIndex: 2}}, nil
	})
	if a := send(t, rig.newBase, "PUT", "/k", "", "value=v"); a.status != http.StatusCreated {
		t.Fatalf("write after two not-leader answers: %d %s", a.status, a.body)
	}
	if n := len(rig.leader.proposed()); n != 3 {
		t.Fatalf("leader asked %d times, want 3", n)
	}

	started := make(chan struct{})
	rig.leader.script(func(ctx context.Context, _ *fsm.Command) (*store.Event, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	go func() {
		<-started
		rig.relaySrv.Close() // the leader dies with the write in hand
	}()
	a := send(t, rig.newBase, "PUT", "/k", "", "value=w")
	if a.status != http.StatusInternalServerError || !bytes.Contains(a.body, []byte(`"errorCode":300`)) ||
		!bytes.Contains(a.body, []byte("may or may not have been applied")) {
		t.Fatalf("write lost with the leader: %d %s", a.status, a.body)
	}
	if n := len(rig.leader.proposed()); n != 1 {
		t.Fatalf("a write that may have been applied was proposed %d times", n)
	}
}

// TestRelayFallsBackToHTTPForAnEarlierLeader: a leader of an earlier build has no relay and
// takes the connection for HTTP; the follower relays over HTTP instead, once.
func TestRelayFallsBackToHTTPForAnEarlierLeader(t *testing.T) {
	cfg := Config{RequestTimeout: 2 * time.Second}
	leader := newFake("leader")
	peerHTTP := httptest.NewServer(NewPeer(leader, cfg))
	defer peerHTTP.Close()
	leader.script(func(context.Context, *fsm.Command) (*store.Event, error) {
		return &store.Event{Action: store.Set, EtcdIndex: 2, Node: &store.NodeExtern{Key: "/k", Value: strp("v"), ModifiedIndex: 2, CreatedIndex: 2}}, nil
	})
	rc := relay.NewClient(relay.ClientConfig{ClusterID: leader.ClusterID(), Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr) // the peer port, as an old mux would hand it to HTTP
	}})
	defer rc.Close()
	f := newFake("follower")
	f.leader = peerHTTP.URL
	fcfg := cfg
	fcfg.Relay = rc
	fsrv := httptest.NewServer(New(f, fcfg))
	defer fsrv.Close()
	if a := send(t, fsrv.URL, "PUT", "/k", "", "value=v"); a.status != http.StatusCreated || a.header.Get("X-Raft-Term") != "3" {
		t.Fatalf("write through a follower of a newer build: %d %v %s", a.status, a.header, a.body)
	}
	if n := len(leader.proposed()); n != 1 {
		t.Fatalf("leader proposed %d times, want 1", n)
	}
}

func TestRelayRefusesNonKeysCommands(t *testing.T) {
	leader := newFake("leader")
	leader.script(func(context.Context, *fsm.Command) (*store.Event, error) {
		return nil, errors.New("must not be proposed")
	})
	h := NewPeer(leader, Config{})
	for _, cmd := range []*fsm.Command{
		{Type: fsm.CmdMemberSet, Member: &fsm.Member{ID: 1, Name: "evil"}},
		{Type: fsm.CmdExpire, Key: "/k"},
		{Type: fsm.CmdPut, Key: "/k", Member: &fsm.Member{ID: 1}},
	} {
		r := h.serveRelay(context.Background(), &relay.Request{Body: cmd.Marshal()})
		if r.NotLeader || r.Status != http.StatusInternalServerError {
			t.Errorf("%v command relayed: %d %s", cmd.Type, r.Status, r.Body)
		}
	}
	if r := h.serveRelay(context.Background(), &relay.Request{Body: []byte{1, 2}}); r.Status != http.StatusInternalServerError {
		t.Errorf("garbage relayed: %d %s", r.Status, r.Body)
	}
	if n := len(leader.proposed()); n != 0 {
		t.Fatalf("%d refused commands were proposed", n)
	}
}

func TestPeerHost(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:2380": "127.0.0.1:2380", "https://[::1]:2380/": "[::1]:2380", "10.0.0.1:7": "10.0.0.1:7",
	} {
		if got := peerHost(in); got != want {
			t.Errorf("peerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRelayReadIndexer asks a leader for read indexes over the relay the way server does, and
// checks that each way of failing reaches server in the terms its contract names.
func TestRelayReadIndexer(t *testing.T) {
	cfg := Config{RequestTimeout: 2 * time.Second}
	leader := newFake("leader")
	peer := NewPeer(leader, cfg)
	peerHTTP := httptest.NewServer(peer)
	defer peerHTTP.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := peer.RelayServer()
	go func() { _ = rs.Serve(ln) }()
	defer func() { ln.Close(); rs.Close() }()
	dials := map[string]int{}
	var dialsMu sync.Mutex
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		dialsMu.Lock()
		dials[addr]++
		dialsMu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	dialed := func(addr string) int {
		dialsMu.Lock()
		defer dialsMu.Unlock()
		return dials[addr]
	}
	newIndexer := func(cluster uint64) server.ReadIndexer {
		rc := relay.NewClient(relay.ClientConfig{ClusterID: cluster, Dial: dial})
		t.Cleanup(rc.Close)
		return RelayReadIndexer(rc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	relayURL := "http://" + ln.Addr().String()
	ri := newIndexer(leader.ClusterID())

	left := make(chan time.Duration, 1)
	leader.mu.Lock()
	leader.readIndex = func(ctx context.Context) (uint64, error) {
		dl, _ := ctx.Deadline()
		left <- time.Until(dl)
		return 4242, nil
	}
	leader.mu.Unlock()
	if idx, err := ri.ReadIndex(ctx, relayURL); err != nil || idx != 4242 {
		t.Fatalf("read index: %d %v", idx, err)
	}
	if deadline := <-left; deadline <= 0 || deadline > cfg.RequestTimeout {
		t.Fatalf("leader's read index had %v left, want at most the request timeout %v", deadline, cfg.RequestTimeout)
	}

	retryable := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, server.ErrReadIndexUnsupported) || errors.Is(err, server.ErrClusterIDMismatch) {
			t.Fatalf("%s: %v, want an error server asks again after", what, err)
		}
	}
	leader.mu.Lock()
	leader.readIndex = nil
	leader.mu.Unlock()
	_, err = ri.ReadIndex(ctx, relayURL)
	retryable("not leader", err)
	leader.mu.Lock()
	leader.readIndex = func(context.Context) (uint64, error) { return 0, raftnode.ErrLeadershipLost }
	leader.mu.Unlock()
	_, err = ri.ReadIndex(ctx, relayURL)
	retryable("leadership lost", err)

	if _, err := newIndexer(leader.ClusterID()+1).ReadIndex(ctx, relayURL); !errors.Is(err, server.ErrClusterIDMismatch) {
		t.Fatalf("another cluster's leader: %v", err)
	}
	// The peer port of an earlier build takes the relay connection for HTTP. The follower does
	// not dial it again for every read round that follows, but still uses the relay elsewhere.
	oldAddr := strings.TrimPrefix(peerHTTP.URL, "http://")
	for i := 0; i < 3; i++ {
		if _, err := ri.ReadIndex(ctx, peerHTTP.URL); !errors.Is(err, server.ErrReadIndexUnsupported) {
			t.Fatalf("a leader without the relay: %v", err)
		}
	}
	if n := dialed(oldAddr); n != 1 {
		t.Fatalf("dialed a leader without the relay %d times for 3 rounds, want 1", n)
	}
	leader.mu.Lock()
	leader.readIndex = func(context.Context) (uint64, error) { return 5, nil }
	leader.mu.Unlock()
	if idx, err := ri.ReadIndex(ctx, relayURL); err != nil || idx != 5 {
		t.Fatalf("relay leader after a leader without the relay: %d %v", idx, err)
	}
}

// A follower answers a relayed write (either relay) only once it has applied what the leader
// had applied when it answered; the index it waited for stays between the two members.
func TestRelayedWriteWaitsForTheFollowersApply(t *testing.T) {
	rig := newRelayRig(t)
	rig.leader.setApplied(5000)
	rig.leader.script(func(context.Context, *fsm.Command) (*store.Event, error) {
		return &store.Event{Action: store.Set, EtcdIndex: 5, Node: &store.NodeExtern{Key: "/a", Value: strp("v"), ModifiedIndex: 5, CreatedIndex: 5}}, nil
	})
	for name, f := range map[string]struct {
		fake *fakeBackend
		base string
	}{"http relay": {rig.oldF, rig.oldClient}, "binary relay": {rig.newF, rig.newBase}} {
		got := make(chan answer, 1)
		go func() { got <- send(t, f.base, "PUT", "/a", "", "value=v") }()
		f.fake.setApplied(4999)
		select {
		case a := <-got:
			t.Fatalf("%s: answered %d before the follower applied index 5000", name, a.status)
		case <-time.After(100 * time.Millisecond):
		}
		f.fake.setApplied(5000)
		a := <-got
		if a.status != http.StatusCreated || a.header.Get(headerApplied) != "" {
			t.Fatalf("%s: %d %v", name, a.status, a.header)
		}
	}
	// A follower that cannot catch up in time answers with a timeout, not with the write.
	rig.leader.setApplied(6000)
	if a := send(t, rig.newBase, "PUT", "/a", "", "value=v"); a.status == http.StatusCreated {
		t.Fatalf("answered a write the follower never applied: %d %s", a.status, a.body)
	}
}
