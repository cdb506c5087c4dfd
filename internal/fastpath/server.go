package fastpath

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves one listener's connections: the requests Fast accepts itself, every other
// connection through Fallback.
type Server struct {
	// Handler answers every request on either path.
	Handler http.Handler
	// Fast reports whether a request may be served here. It sees only the method, the
	// (unescaped, since escaped targets never get this far) path and the raw query.
	Fast func(method, path, rawQuery string) bool
	// Fallback serves the connections handed over; its Handler should be Handler.
	Fallback *http.Server
	// BaseContext is the parent of every fast request's context (default Background).
	BaseContext context.Context
	// HeaderBufferBytes bounds the request line and headers served here (default 8 KiB);
	// larger blocks are handed over to Fallback, which has its own limit.
	HeaderBufferBytes int
	// MaxBodyBytes bounds a body served here (default 1 MiB); larger ones are handed over.
	MaxBodyBytes int64
	// IdleTimeout bounds the wait for a kept-alive connection's next request (default 2 min);
	// ReadTimeout bounds reading one request once its first byte arrived (default 10 s).
	IdleTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds writing one answer (default 10 s).
	WriteTimeout time.Duration

	handed   *handoffListener
	once     sync.Once
	closing  atomic.Bool
	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	wg       sync.WaitGroup
	fallback chan error
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) init(addr net.Addr) {
	s.once.Do(func() {
		if s.HeaderBufferBytes == 0 {
			s.HeaderBufferBytes = 8 << 10
		}
		if s.MaxBodyBytes == 0 {
			s.MaxBodyBytes = 1 << 20
		}
		if s.IdleTimeout == 0 {
			s.IdleTimeout = 2 * time.Minute
		}
		if s.ReadTimeout == 0 {
			s.ReadTimeout = 10 * time.Second
		}
		if s.WriteTimeout == 0 {
			s.WriteTimeout = 10 * time.Second
		}
		if s.BaseContext == nil {
			s.BaseContext = context.Background()
		}
		s.conns = make(map[*conn]struct{})
		s.handed = newHandoffListener(addr)
		keepTLSState(s.Fallback)
		s.fallback = make(chan error, 1)
		go func() { s.fallback <- s.Fallback.Serve(s.handed) }()
	})
}

// Serve accepts connections on ln until Shutdown or Close; it always returns an error,
// ErrServerClosed after those.
func (s *Server) Serve(ln net.Listener) error {
	s.init(ln.Addr())
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	c := &conn{srv: s, nc: nc}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// handOver gives c, with the bytes already buffered, to the net/http server for good.
func (s *Server) handOver(c *conn) {
	_ = c.nc.SetDeadline(time.Time{})
	if !s.handed.deliver(&handoffConn{Conn: c.nc, r: c.br, tls: c.req.base.TLS}) {
		c.nc.Close()
	}
}

// Shutdown stops accepting, closes idle connections, waits for requests in progress to be
// answered (or ctx to end, then closes the rest) and shuts the fallback server down the same way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		if s.closeIdle() {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
			s.closeAll()
		case <-tick.C:
			continue
		}
		break
	}
	s.wg.Wait()
	if s.Fallback != nil {
		if ferr := s.Fallback.Shutdown(ctx); ferr != nil && err == nil {
			err = ferr
		}
	}
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.stopAccepting()
	s.closeAll()
	s.wg.Wait()
	if s.Fallback != nil {
		return s.Fallback.Close()
	}
	return nil
}

func (s *Server) stopAccepting() {
	s.init(nil)
	s.mu.Lock()
	s.closing.Store(true)
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// closeIdle closes the connections between requests and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if !c.busy.Load() {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// conn is one client connection while it is served here.
type conn struct {
	srv  *Server
	nc   net.Conn
	br   *bufio.Reader
	busy atomic.Bool // a request is being read, handled or answered
	// served is set once a request was answered here: net/http too treats the first request
	// of a connection apart.
	served bool
	// afterPost is set while the last request answered was a POST, after which net/http
	// skips up to four stray CR or LF bytes (RFC 7230 section 3.5's tolerance for clients that
	// end a body with an extra line break); this path must skip exactly the same bytes.
	afterPost bool
	req       request
	resp      response
}

func (c *conn) serve() {
	s := c.srv
	handed := false
	defer func() {
		if !handed {
			c.nc.Close()
		}
		s.forget(c)
	}()
	c.req.init(s.BaseContext, c.nc.RemoteAddr().String())
	if tc, ok := c.nc.(*tls.Conn); ok {
		state, ok := c.handshake(tc)
		if !ok {
			return
		}
		c.req.base.TLS = state
	}
	c.br = bufio.NewReaderSize(c.nc, s.HeaderBufferBytes)
	c.resp.init()
	for {
		if s.closing.Load() {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		c.busy.Store(true)
		_ = c.nc.SetReadDeadline(time.Now().Add(s.ReadTimeout))
		switch c.readRequest() {
		case outcomeHandOver:
			handed = true
			s.handOver(c)
			return
		case outcomeClose:
			return
		}
		s.Handler.ServeHTTP(&c.resp, c.req.r)
		_ = c.nc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		if _, err := c.nc.Write(c.resp.finish(c.req.r.Method)); err != nil {
			return
		}
		c.served = true
		c.afterPost = c.req.r.Method == http.MethodPost
		c.req.release()
		c.resp.reset()
		c.busy.Store(false)
	}
}

type outcome int

const (
	outcomeServe outcome = iota
	outcomeHandOver
	outcomeClose
)

// readRequest parses the next request from the buffer without consuming it unless it will
// be served here, so a hand-over passes net/http every byte.
func (c *conn) readRequest() outcome {
	s := c.srv
	// Between kept-alive requests net/http waits for four bytes and closes without a word when
	// the connection ends before them; so does this path, so the two answer alike.
	if c.served {
		peek, err := c.br.Peek(4)
		if err != nil {
			return outcomeClose
		}
		if c.afterPost {
			_, _ = c.br.Discard(leadingLineBreaks(peek))
		}
	}
	head, err := peekHead(c.br)
	if err != nil {
		// A head cut short by the client's EOF goes over too: net/http answers it with a 400.
		if errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, errBareLF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return outcomeHandOver
		}
		return outcomeClose
	}
	if !c.req.parse(head) || c.req.contentLength > s.MaxBodyBytes ||
		!s.Fast(c.req.r.Method, c.req.r.URL.Path, c.req.r.URL.RawQuery) {
		c.req.release()
		return outcomeHandOver
	}
	_, _ = c.br.Discard(len(head))
	if err := c.req.readBody(c.br); err != nil {
		return outcomeClose
	}
	return outcomeServe
}

// peekHead returns the request line and headers, through the blank line, still buffered.
func peekHead(br *bufio.Reader) ([]byte, error) {
	searched := 0
	for {
		n := br.Buffered()
		if n == 0 {
			n = 1
		}
		buf, err := br.Peek(n)
		if err != nil {
			return nil, err
		}
		i, bare := indexEnd(buf, searched)
		if bare {
			// A bare LF line ending is legal to tolerate but not ours to parse.
			return nil, errBareLF
		}
		if i >= 0 {
			return buf[:i], nil
		}
		if n == br.Size() {
			return nil, bufio.ErrBufferFull
		}
		searched = n
		// Wait for more bytes: Peek(n+1) blocks until the connection delivers them.
		if _, err := br.Peek(n + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, err
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func leadingLineBreaks(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

var errBareLF = errors.New("bare LF in request head")

// indexEnd finds the end of a header block ("\r\n\r\n") in b, searching from `from`, and
// returns the length of the block including it, or -1; bare reports a LF without its CR.
func indexEnd(b []byte, from int) (end int, bare bool) {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i == 0 || b[i-1] != '\r' {
			return -1, true
		}
		if i >= 3 && b[i-2] == '\n' && b[i-3] == '\r' {
			return i + 1, false
		}
	}
	return -1, false
}
