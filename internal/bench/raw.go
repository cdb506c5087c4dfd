package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// The raw client speaks just enough HTTP/1.1 for the etcd v2 API: a request is
// built in the worker's buffer and sent in one write; the reply is parsed from a
// bufio.Reader that lives as long as the connection. net/http costs the
// generator some fifty allocations and several goroutine hand-offs per request,
// which on a 2-core machine shared with the servers shows up in their figures.

// rawPool is one endpoint's connections: a fixed set of slots, each dialled
// lazily and checked out by a worker for one request at a time. With as many
// slots as the endpoint's workers (the default, conns = clients) every worker
// finds one free at once; with fewer, workers queue for one, as they do for
// net/http's MaxConnsPerHost.
type rawPool struct {
	addr    string // host:port to dial
	host    string // Host header
	timeout time.Duration
	dialer  net.Dialer
	idle    chan *rawConn
}

// rawConn is one slot: a TCP connection, or nil until (re)dialled.
type rawConn struct {
	nc net.Conn
	br *bufio.Reader
	// uses counts replies read on nc: only a reused connection can have been
	// closed by the server while idle.
	uses int
	// sys is taken once per dial and probeFn bound once, so that probing
	// allocates nothing.
	sys      syscall.RawConn
	probeFn  func(fd uintptr)
	probeOK  bool
	probeBuf [1]byte
}

// rawReadBuffer holds a reply's head and, for the bench's small values, its
// whole body: one read syscall per reply.
const rawReadBuffer = 16 << 10

func newRawPool(u *url.URL, size int, timeout time.Duration) *rawPool {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	p := &rawPool{
		addr:    net.JoinHostPort(u.Hostname(), port),
		host:    u.Host,
		timeout: timeout,
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		idle:    make(chan *rawConn, size),
	}
	for range size {
		rc := &rawConn{br: bufio.NewReaderSize(nil, rawReadBuffer)}
		rc.probeFn = rc.probe
		p.idle <- rc
	}
	return p
}

func (p *rawPool) get(ctx context.Context) (*rawConn, error) {
	select {
	case rc := <-p.idle:
		return rc, nil
	default:
	}
	select {
	case rc := <-p.idle:
		return rc, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *rawPool) put(rc *rawConn) { p.idle <- rc }

// closeIdle closes the connections of the slots not checked out; the slots
// stay, to be redialled if used again.
func (p *rawPool) closeIdle() {
	var taken []*rawConn
	defer func() {
		for _, rc := range taken {
			p.put(rc)
		}
	}()
	for range cap(p.idle) {
		select {
		case rc := <-p.idle:
			rc.close()
			taken = append(taken, rc)
		default:
			return
		}
	}
}

func (rc *rawConn) close() {
	if rc.nc != nil {
		rc.nc.Close()
		rc.nc, rc.sys = nil, nil
	}
}

// alive tells whether a reused connection is still open, without blocking: a
// non-idempotent request must not be sent on a connection the server has
// already closed, because once sent it cannot be retried. net/http learns this
// from the reader goroutine it keeps on every idle connection; one
// non-blocking read before such a request (writes, far slower at the server
// than this syscall) costs less than a goroutine per connection.
func (rc *rawConn) alive() bool {
	if rc.sys == nil {
		return true
	}
	rc.probeOK = false
	// Control, not Read: Read would fail on the last request's deadline, long
	// past on a connection idle for longer than the timeout.
	if err := rc.sys.Control(rc.probeFn); err != nil {
		return false
	}
	return rc.probeOK
}

// probe reads the non-blocking socket once. Only "nothing to read yet" means
// alive: end of stream is a close, and bytes nobody asked for mean the
// connection is out of step.
func (rc *rawConn) probe(fd uintptr) {
	_, err := syscall.Read(int(fd), rc.probeBuf[:])
	rc.probeOK = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}

func (w *Conn) dial(rc *rawConn) error {
	nc, err := w.pool.dialer.DialContext(w.ctx, "tcp", w.pool.addr)
	if err != nil {
		return err
	}
	rc.nc, rc.uses = nc, 0
	rc.br.Reset(nc)
	rc.sys = nil
	if sc, ok := nc.(syscall.Conn); ok {
		rc.sys, _ = sc.SyscallConn()
	}
	return nil
}

// abort runs once ctx is done: it closes the connection of the request in
// flight, if any, so that the request returns at once.
func (w *Conn) abort() {
	w.mu.Lock()
	w.canceled = true
	if w.active != nil {
		w.active.Close()
	}
	w.mu.Unlock()
}

// arm exposes nc to abort for the duration of one exchange; false means the
// context is already done.
func (w *Conn) arm(nc net.Conn) bool {
	w.mu.Lock()
	ok := !w.canceled
	if ok {
		w.active = nc
	}
	w.mu.Unlock()
	return ok
}

// disarm withdraws the connection from abort and reports whether the context
// ended meanwhile.
func (w *Conn) disarm() bool {
	w.mu.Lock()
	w.active = nil
	c := w.canceled
	w.mu.Unlock()
	return c
}

// ctxErr is the context's error, for an operation that failed because the run
// ended rather than because of the server.
func (w *Conn) ctxErr() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// exchange stages, which decide whether a failure may be retried.
const (
	nothingWritten = iota // the request never left
	sentUnanswered        // sent, and not one byte of a reply read
	replyStarted          // part of a reply read: the connection is out of step
)

func (w *Conn) doRaw(method, key, query string, form []byte) (Response, error) {
	p := w.pool
	rc, err := p.get(w.ctx)
	if err != nil {
		return Response{}, err
	}
	defer p.put(rc)
	w.wbuf = appendRequest(w.wbuf[:0], method, p.host, key, query, w.auth, form)
	idempotent := method == http.MethodGet || method == http.MethodHead
	for attempt := 0; ; attempt++ {
		if rc.nc != nil && rc.uses > 0 && (rc.br.Buffered() > 0 || !idempotent && !rc.alive()) {
			rc.close()
		}
		if rc.nc == nil {
			if err := w.dial(rc); err != nil {
				if w.ctx.Err() != nil {
					return Response{}, w.ctx.Err()
				}
				return Response{}, err
			}
		}
		if !w.arm(rc.nc) {
			return Response{}, w.ctxErr()
		}
		resp, stage, err := w.exchange(rc, method == http.MethodHead)
		if w.disarm() {
			rc.close()
			return Response{}, w.ctxErr()
		}
		if err == nil {
			rc.uses++
			if resp.close {
				rc.close()
			}
			return resp.Response, nil
		}
		reused := rc.uses > 0
		rc.close()
		// Like net/http: a reused connection that fails before any of the reply
		// arrives was most likely closed by the server while idle, and the
		// request is sent again on a fresh one, once. A request that was sent
		// is resent only if repeating it is harmless.
		retry := attempt == 0 && reused && deadConn(err) &&
			(stage == nothingWritten || stage == sentUnanswered && idempotent)
		if !retry {
			return Response{}, err
		}
	}
}

// exchange sends w.wbuf on rc and reads the reply into w.body.
func (w *Conn) exchange(rc *rawConn, head bool) (rawResponse, int, error) {
	if w.pool.timeout > 0 {
		if err := rc.nc.SetDeadline(time.Now().Add(w.pool.timeout)); err != nil {
			return rawResponse{}, nothingWritten, err
		}
	}
	if n, err := rc.nc.Write(w.wbuf); err != nil {
		if n == 0 {
			return rawResponse{}, nothingWritten, err
		}
		return rawResponse{}, sentUnanswered, err
	}
	resp, started, err := readResponse(rc.br, head, w.body)
	w.body = resp.Body[:0]
	if err != nil {
		if started {
			return resp, replyStarted, err
		}
		return resp, sentUnanswered, err
	}
	return resp, replyStarted, nil
}

// deadConn tells whether err is how a connection closed by its peer fails.
func deadConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// appendRequest appends the request line, Host, the Authorization header when auth is set and,
// for a form, its Content-Type and Content-Length, then the form itself.
func appendRequest(b []byte, method, host, key, query, auth string, form []byte) []byte {
	b = append(b, method...)
	b = append(b, " /v2/keys"...)
	b = appendPath(b, key)
	if query != "" {
		b = append(b, '?')
		b = append(b, query...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	if auth != "" {
		b = append(b, "\r\nAuthorization: "...)
		b = append(b, auth...)
	}
	switch {
	case form != nil:
		b = append(b, "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(form)), 10)
	case method == http.MethodPut || method == http.MethodPost || method == http.MethodPatch:
		// A server may insist on a length for these even when the body is empty.
		b = append(b, "\r\nContent-Length: 0"...)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, form...)
}

// appendPath percent-encodes what a path may not carry literally, as net/url
// does for URL.Path; the bench's own keys need none of it.
func appendPath(b []byte, p string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		c := p[i]
		if pathByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}
