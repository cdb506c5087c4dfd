package fastpath

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
)

// handoffListener is the listener the fallback net/http server accepts from: it yields the
// connections the fast path gave up.
type handoffListener struct {
	addr   net.Addr
	ch     chan net.Conn
	mu     sync.Mutex
	closed chan struct{}
	done   bool
}

func newHandoffListener(addr net.Addr) *handoffListener {
	if addr == nil {
		addr = &net.TCPAddr{}
	}
	return &handoffListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver blocks until the fallback server accepts c; false once that server is gone.
func (l *handoffListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.done = true
		close(l.closed)
	}
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// handoffConn replays what the fast path buffered before reading on.
type handoffConn struct {
	net.Conn
	r   *bufio.Reader
	tls *tls.ConnectionState // nil on a plain connection
}

func (c *handoffConn) Read(p []byte) (int, error) { return c.r.Read(p) }
