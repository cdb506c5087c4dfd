package raftnode

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// raftMarker is the first byte our stream layer writes on every raft
// connection. It can begin neither an HTTP/1.x request (an ASCII method) nor
// an HTTP/2 preface ('P'), so one byte tells the two apart. TLS, when on, is
// terminated before the byte is read.
const raftMarker byte = 0xCA

// relayMarker is the first byte of a write-relay connection (followers
// relaying clients' writes to the leader, internal/relay). Like raftMarker it
// cannot begin an HTTP request.
const relayMarker byte = 0xCB

// classifyTimeout bounds how long an accepted connection may stay silent
// before its first byte (and, with TLS, its handshake): a stalled or hostile
// peer must not pin a goroutine forever.
const classifyTimeout = 10 * time.Second

// peerMux splits one listener (the peer port) into a raft stream, a relay
// stream and an HTTP listener by the first byte of each connection.
type peerMux struct {
	ln    net.Listener
	raft  *muxView
	relay *muxView
	http  *muxView

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup

	// silent holds the connections still waiting for their first byte: Close closes them,
	// or a member's stop would wait out classifyTimeout for a peer that never speaks.
	mu     sync.Mutex
	silent map[net.Conn]struct{}
}

func newPeerMux(ln net.Listener, tlsCfg *tls.Config) *peerMux {
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	m := &peerMux{ln: ln, closed: make(chan struct{}), silent: map[net.Conn]struct{}{}}
	m.raft = newMuxView(m, ln.Addr())
	m.relay = newMuxView(m, ln.Addr())
	m.http = newMuxView(m, ln.Addr())
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

func (m *peerMux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) {
				// Transient (e.g. EMFILE): back off rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-m.closed:
					return
				}
			}
			return
		}
		backoff = 0
		m.mu.Lock()
		if m.silent == nil {
			m.mu.Unlock()
			_ = c.Close() // closed meanwhile
			return
		}
		m.silent[c] = struct{}{}
		m.mu.Unlock()
		m.wg.Add(1)
		go m.classify(c)
	}
}

// classify reads the first byte off the accept loop so that one slow client
// cannot delay the others.
func (m *peerMux) classify(c net.Conn) {
	defer m.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(classifyTimeout))
	var b [1]byte
	_, err := c.Read(b[:])
	m.mu.Lock()
	delete(m.silent, c)
	m.mu.Unlock()
	if err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch b[0] {
	case raftMarker:
		m.raft.deliver(c)
		return
	case relayMarker:
		m.relay.deliver(c)
		return
	}
	m.http.deliver(&prefixConn{Conn: c, first: b[0], pending: true})
}

// Close stops accepting on the peer port; both views report net.ErrClosed.
func (m *peerMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		err = m.ln.Close()
		m.mu.Lock()
		for c := range m.silent {
			_ = c.Close()
		}
		m.silent = nil
		m.mu.Unlock()
		m.wg.Wait()
	})
	return err
}

// muxView is one side of the mux, a net.Listener of its own. Closing a view
// refuses its later connections without touching the other view.
type muxView struct {
	m      *peerMux
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newMuxView(m *peerMux, addr net.Addr) *muxView {
	return &muxView{m: m, addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (v *muxView) deliver(c net.Conn) {
	select {
	case v.ch <- c:
	case <-v.closed:
		_ = c.Close()
	case <-v.m.closed:
		_ = c.Close()
	}
}

func (v *muxView) Accept() (net.Conn, error) {
	select {
	case c := <-v.ch:
		return c, nil
	case <-v.closed:
		return nil, net.ErrClosed
	case <-v.m.closed:
		return nil, net.ErrClosed
	}
}

func (v *muxView) Close() error {
	v.once.Do(func() { close(v.closed) })
	return nil
}

func (v *muxView) Addr() net.Addr { return v.addr }

// prefixConn gives back the byte the mux consumed.
type prefixConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// streamLayer is raft's view of the peer port: it accepts the connections
// marked as raft and dials others with the marker (and TLS) in front.
type streamLayer struct {
	*muxView
	advertise net.Addr
	tls       *tls.Config
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// Addr is what raft announces as this node's address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return dialMarked(ctx, s.dial, s.tls, string(address), raftMarker)
}

// dialMarked opens a peer-port connection of the kind marker names: TLS
// first when configured, then the marker byte.
func dialMarked(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	tlsCfg *tls.Config, address string, marker byte) (net.Conn, error) {
	raw, err := dial(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	c := raw
	if tlsCfg != nil {
		cfg := tlsCfg.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(address)
			cfg.ServerName = host
		}
		c = tls.Client(raw, cfg)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{marker}); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// advertiseAddr is a fixed address raft announces (the advertised peer
// address may differ from the bound one, e.g. 0.0.0.0 or behind NAT).
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }
