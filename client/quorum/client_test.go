package quorum

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
)

var key = []byte("client-test-key")

// peerSocket is a bare UDP socket standing in for a cluster member that misbehaves in
// ways a real server never does (duplicate replies, replies from elsewhere, silence).
type peerSocket struct {
	t     *testing.T
	conn  *net.UDPConn
	codec *wire.Codec
}

func newPeerSocket(t *testing.T, k []byte) *peerSocket {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := wire.NewCodec(k)
	if err != nil {
		t.Fatal(err)
	}
	return &peerSocket{t: t, conn: conn, codec: c}
}

func (p *peerSocket) addr() string { return p.conn.LocalAddr().String() }

// next reads one request.
func (p *peerSocket) next() (wire.Request, *net.UDPAddr) {
	p.t.Helper()
	buf := make([]byte, wire.MaxDatagram)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	var r wire.Request
	if err := p.codec.DecodeRequest(buf[:n], &r); err != nil {
		p.t.Fatalf("peer decode: %v", err)
	}
	return r, from
}

func (p *peerSocket) reply(to *net.UDPAddr, r wire.Reply) {
	p.t.Helper()
	b, err := p.codec.AppendReply(nil, &r)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP(b, to); err != nil {
		p.t.Fatal(err)
	}
}

type recorder struct {
	mu  sync.Mutex
	ups []Upcall
}

func (r *recorder) cb(u Upcall) { r.mu.Lock(); r.ups = append(r.ups, u); r.mu.Unlock() }
func (r *recorder) all() []Upcall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Upcall(nil), r.ups...)
}

func TestNewClientErrors(t *testing.T) {
	cases := []struct {
		name  string
		key   []byte
		peers []string
		opts  []Option
		want  error
	}{
		{"no peers", key, nil, nil, ErrNoPeers},
		{"mixed families", key, []string{"127.0.0.1", "::1"}, nil, ErrMixedFamilies},
		{"empty key", nil, []string{"127.0.0.1"}, nil, nil},
		{"bad port", key, []string{"127.0.0.1"}, []Option{WithDefaultPort(0)}, nil},
		{"bad expiry", key, []string{"127.0.0.1"}, []Option{WithExpiry(-time.Second)}, nil},
	}
	for _, tc := range cases {
		c, err := NewClient(tc.key, tc.peers, nil, tc.opts...)
		if err == nil {
			c.Close()
			t.Errorf("%s: NewClient succeeded", tc.name)
		} else if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestUpdatePeerList(t *testing.T) {
	c, err := NewClient(key, []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.UpdatePeerList([]string{"::1"}); !errors.Is(err, ErrMixedFamilies) {
		t.Fatalf("switching to IPv6: err %v, want ErrMixedFamilies", err)
	}
	if err := c.UpdatePeerList(nil); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("empty list: err %v, want ErrNoPeers", err)
	}
	if err := c.UpdatePeerList([]string{"127.0.0.2", "127.0.0.3"}); err != nil {
		t.Fatal(err)
	}
	salt, err := c.SendRequest(Request{Type: QueryPing}, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, sent, _ := c.WaitForReplies(salt, 0); sent != 2 {
		t.Fatalf("request went to %d peers after the update, want 2", sent)
	}
}

func TestCoverage(t *testing.T) {
	var peers []string
	for i := 1; i <= 8; i++ {
		peers = append(peers, "127.0.0."+strconv.Itoa(i))
	}
	c, err := NewClient(key, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for coverage, want := range map[int]int{0: DefaultCoverage, -1: 8, 3: 3, 8: 8} {
		salt, err := c.SendRequest(Request{Type: QueryPing}, coverage, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, sent, _ := c.WaitForReplies(salt, 0); sent != want {
			t.Errorf("coverage %d: sent to %d peers, want %d", coverage, sent, want)
		}
	}
	for _, bad := range []int{9, -2} {
		if _, err := c.SendRequest(Request{Type: QueryPing}, bad, true); err == nil {
			t.Errorf("coverage %d accepted with 8 peers", bad)
		}
	}
}

// Duplicate replies, replies from peers never asked and forged replies must not count
// towards NeededReplies, or one member could pass for a quorum.
func TestOnlyFirstReplyOfEachAskedPeerCounts(t *testing.T) {
	a, b := newPeerSocket(t, key), newPeerSocket(t, key)
	outsider, forger := newPeerSocket(t, key), newPeerSocket(t, []byte("forged"))
	rec := &recorder{}
	c, err := NewClient(key, []string{a.addr(), b.addr()}, rec.cb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	salt, err := c.SendRequest(Request{Type: QueryPing}, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	req, from := a.next()
	b.next()
	r := wire.Reply{Salt: req.Salt, Index: 1, Node: "a", Answer: []byte("true")}
	a.reply(from, r)
	a.reply(from, r)
	outsider.reply(from, r)
	forger.reply(from, r)

	timedOut, sent, received := c.WaitForReplies(salt, 300*time.Millisecond)
	if !timedOut || sent != 2 || received != 1 {
		t.Fatalf("WaitForReplies = %v, %d, %d; want true, 2, 1 (one genuine reply of two needed)", timedOut, sent, received)
	}
	if ups := rec.all(); len(ups) != 1 || ups[0].Server != a.addr() || ups[0].Reply.Salt != salt {
		t.Fatalf("upcalls %+v, want one reply from %s", ups, a.addr())
	}
}

func TestExpiry(t *testing.T) {
	silent := newPeerSocket(t, key)
	rec := &recorder{}
	c, err := NewClient(key, []string{silent.addr()}, rec.cb, WithExpiry(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := Request{Type: QueryKey, Query: "/x"}
	salt, err := c.SendRequest(req, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	wreq, from := silent.next()
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.all()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no expiry upcall")
		}
		c.ExpireRequests()
	}
	if u := rec.all()[0]; u.Kind != UpcallExpire || u.Salt != salt || u.Request != req {
		t.Fatalf("upcall %+v, want the expiry of %s", u, salt)
	}
	if timedOut, sent, _ := c.WaitForReplies(salt, time.Second); !timedOut || sent != 0 {
		t.Fatal("expired request still known")
	}
	// A late reply to an expired request is dropped.
	silent.reply(from, wire.Reply{Salt: wreq.Salt, Node: "late"})
	if c.ReceiveReply(200 * time.Millisecond) {
		t.Fatal("late reply delivered after expiry")
	}
}

func TestQueryPicksHighestIndexAndChecksCoherence(t *testing.T) {
	peers := []*peerSocket{newPeerSocket(t, key), newPeerSocket(t, key), newPeerSocket(t, key)}
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.addr())
	}
	c, err := NewClient(key, addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	run := func(req Request, answers ...wire.Reply) (Reply, error) {
		t.Helper()
		type res struct {
			r   Reply
			err error
		}
		done := make(chan res, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := c.Query(ctx, req)
			done <- res{r, err}
		}()
		// Replies go out in order; Query returns after NeededReplies(3) = 2 of them.
		for i, p := range peers {
			wr, from := p.next()
			if i < len(answers) {
				a := answers[i]
				a.Salt = wr.Salt
				p.reply(from, a)
			}
		}
		out := <-done
		return out.r, out.err
	}

	key := Request{Type: QueryKey, Query: "/k"}
	r, err := run(key, wire.Reply{Index: 3, Node: "old", Answer: []byte("x")}, wire.Reply{Index: 9, Node: "new", Answer: []byte("y")})
	if err != nil || r.Node != "new" || r.Answer != "y" || r.Index != 9 {
		t.Fatalf("got %+v, %v; want the index-9 answer", r, err)
	}
	if _, err := hex.DecodeString(r.Salt); err != nil || len(r.Salt) != 2*wire.SaltSize {
		t.Fatalf("reply salt %q is not the request's hex salt", r.Salt)
	}

	_, err = run(key, wire.Reply{Index: 9, Node: "a", Answer: []byte("y")}, wire.Reply{Index: 9, Node: "liar", Answer: []byte("z")})
	if !errors.Is(err, ErrIncoherent) {
		t.Fatalf("same index, different key answers: err %v, want ErrIncoherent", err)
	}

	leader := Request{Type: QueryLeader}
	r, err = run(leader, wire.Reply{Index: 9, Node: "a", Answer: []byte("a")}, wire.Reply{Index: 9, Node: "b", Answer: []byte("b")})
	if err != nil || r.Node != "a" {
		t.Fatalf("leader answers may differ at one index: got %+v, %v", r, err)
	}

	r, err = run(key, wire.Reply{Index: 9, Node: "a", Status: wire.StatusError, Answer: []byte("boom")},
		wire.Reply{Index: 2, Node: "b", Answer: []byte("x")})
	if !errors.Is(err, ErrStatus) || r.Answer != "boom" {
		t.Fatalf("error status: got %+v, %v; want the reply and ErrStatus", r, err)
	}
}

func TestSendRequestFailsWhenNothingCanBeSent(t *testing.T) {
	c, err := NewClient(key, []string{"127.0.0.1", "127.0.0.2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // every send now fails
	if _, err := c.SendRequest(Request{Type: QueryPing}, 0, false); err == nil {
		t.Fatal("SendRequest succeeded though no packet left")
	}
	if _, err := c.Query(context.Background(), Request{Type: QueryPing}); err == nil {
		t.Fatal("Query succeeded though no packet left")
	}
}
