package quorum

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
)

var testKey = []byte("test-key-0123456789")

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startServer runs a server on a free loopback port until the test ends.
func startServer(t *testing.T, cfg Config, src Source) *Server {
	t.Helper()
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	s, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// ErrServerClosed: the test closed the server before Serve got to run.
		if err := <-errc; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// rawPeer is a UDP socket speaking the wire format directly, to send what a well-behaved
// client never would.
type rawPeer struct {
	t     *testing.T
	conn  *net.UDPConn
	codec *wire.Codec
	now   func() time.Time // the server's clock, for requests it must accept
}

func newRawPeer(t *testing.T, s *Server, key []byte) *rawPeer {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := wire.NewCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, conn: conn, codec: c, now: s.cfg.Now}
}

func (p *rawPeer) request(ts time.Time, typ wire.QueryType, query string) ([]byte, [wire.SaltSize]byte) {
	p.t.Helper()
	r := wire.Request{Timestamp: ts.UnixNano(), Type: typ, Query: query}
	if _, err := rand.Read(r.Salt[:]); err != nil {
		p.t.Fatal(err)
	}
	b, err := p.codec.AppendRequest(nil, &r)
	if err != nil {
		p.t.Fatal(err)
	}
	return b, r.Salt
}

func (p *rawPeer) send(pkt []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(pkt); err != nil {
		p.t.Fatal(err)
	}
}

// read returns the next reply, or false after timeout.
func (p *rawPeer) read(timeout time.Duration) (wire.Reply, bool) {
	p.t.Helper()
	buf := make([]byte, wire.MaxDatagram)
	p.conn.SetReadDeadline(time.Now().Add(timeout))
	n, err := p.conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return wire.Reply{}, false
	}
	if err != nil {
		p.t.Fatal(err)
	}
	var r wire.Reply
	if err := p.codec.DecodeReply(buf[:n], &r); err != nil {
		p.t.Fatalf("undecodable reply: %v", err)
	}
	return r, true
}

// ask sends a fresh request and returns its reply.
func (p *rawPeer) ask(typ wire.QueryType, query string) wire.Reply {
	p.t.Helper()
	pkt, salt := p.request(p.now(), typ, query)
	p.send(pkt)
	r, ok := p.read(5 * time.Second)
	if !ok {
		p.t.Fatalf("no reply to %v %q", typ, query)
	}
	if r.Salt != salt {
		p.t.Fatalf("reply salt %x, want %x", r.Salt, salt)
	}
	return r
}

// expectSilence proves the server answered none of the packets sent so far: it sends a
// valid ping and checks that the first reply to arrive is the ping's.
func (p *rawPeer) expectSilence(good *wire.Codec) {
	p.t.Helper()
	saved := p.codec
	p.codec = good
	defer func() { p.codec = saved }()
	pkt, salt := p.request(p.now(), wire.QueryPing, "")
	p.send(pkt)
	r, ok := p.read(5 * time.Second)
	if !ok {
		p.t.Fatal("server stopped answering valid requests")
	}
	if r.Salt != salt {
		p.t.Fatal("server answered a packet it should have dropped")
	}
}
