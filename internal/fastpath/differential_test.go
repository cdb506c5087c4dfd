package fastpath

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential check: the same bytes go once through a fastpath.Server (whose Fallback is
// a net/http server) and once through a net/http server alone, each on an in-memory
// connection, to the same handler. Every request the fast path serves must be one net/http
// parses the same way, at the same place in the stream, and the answers must be the same
// bytes (but the Date). The fast path may also hand the connection over, which leaves the
// rest to net/http, or close it on a body cut short, where net/http too sees a short body.

// seen is one request as the handler saw it.
type seen struct {
	fast          bool
	method, uri   string
	path, query   string
	host          string
	header        string // canonical names, sorted, one "Name: value" a line
	contentLength int64
	body          string
	bodyErr       bool
}

type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, fast := w.(*response)
	body, err := io.ReadAll(r.Body)
	var hdr []string
	for k, vs := range r.Header {
		for _, v := range vs {
			hdr = append(hdr, k+": "+v)
		}
	}
	slices.Sort(hdr)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{fast: fast, method: r.Method, uri: r.RequestURI, path: r.URL.Path,
		query: r.URL.RawQuery, host: r.Host, header: strings.Join(hdr, "\n"), contentLength: r.ContentLength,
		body: string(body), bodyErr: err != nil})
	rec.mu.Unlock()
	// Answers vary with the request, as Cairn's do: status, a header or not, a body or not.
	h := fnv.New32a()
	fmt.Fprint(h, r.Method, r.RequestURI)
	switch v := h.Sum32(); v % 4 {
	case 0:
		w.WriteHeader(http.StatusNoContent)
	case 1:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", fmt.Sprint(v))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"method":%q,"bytes":%d}`, r.Method, len(body))
	case 2:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "no %s here\n", r.URL.Path)
	default:
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(body))
	}
}

// memConn is a connection that reads a fixed input then EOF and collects what is written.
type memConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed chan struct{}
	once   sync.Once
}

func newMemConn(input []byte) *memConn {
	return &memConn{in: bytes.NewReader(input), closed: make(chan struct{})}
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2379} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// oneConn is a listener that yields one connection, then waits to be closed.
type oneConn struct {
	c      chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newOneConn(c net.Conn) *oneConn {
	l := &oneConn{c: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.c <- c
	return l
}

func (l *oneConn) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2379} }

// runConn serves input on one connection until the server closes it, and returns what was
// written back and what the handler saw.
func runConn(t testing.TB, input []byte, fast bool) (string, []seen) {
	rec := &recorder{}
	conn := newMemConn(input)
	ln := newOneConn(conn)
	std := &http.Server{Handler: rec, ErrorLog: discardLog}
	var serve func() error
	var closeAll func()
	if fast {
		s := &Server{Handler: rec, Fast: func(string, string, string) bool { return true }, Fallback: std,
			HeaderBufferBytes: 1 << 10, MaxBodyBytes: 1 << 10}
		serve, closeAll = func() error { return s.Serve(ln) }, func() { s.Close() }
	} else {
		serve, closeAll = func() error { return std.Serve(ln) }, func() { std.Close() }
	}
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case <-conn.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the connection was never closed (fast=%v) for %q", fast, input)
	}
	ln.Close()
	closeAll()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("serve: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return conn.output(), rec.reqs
}

// smuggling reports the request-smuggling shapes the fast path must never serve, looking at
// the head of the request that starts at b.
func smuggling(head []byte) string {
	var lengths int
	for i, line := range bytes.Split(head, []byte("\r\n")) {
		if i > 0 && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return "obs-fold"
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return "bare CR"
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(strings.TrimSpace(string(name))) {
		case "transfer-encoding":
			return "Transfer-Encoding"
		case "content-length":
			lengths++
		}
	}
	if lengths > 1 {
		return "duplicate Content-Length"
	}
	return ""
}

func checkDifferential(t *testing.T, input []byte) {
	fastOut, fastReqs := runConn(t, input, true)
	stdOut, stdReqs := runConn(t, input, false)
	for i, f := range fastReqs {
		if i >= len(stdReqs) {
			t.Fatalf("request %d was served by the fast path (%+v), net/http never saw it\ninput %q", i, f, input)
		}
		s := stdReqs[i]
		s.fast = f.fast
		if f.fast && f != s {
			t.Fatalf("request %d differs:\nfast     %+v\nnet/http %+v\ninput %q", i, f, s, input)
		}
	}
	if len(fastReqs) > 0 && fastReqs[0].fast {
		// The first request's head is the input's start; a smuggling shape there must not be served.
		head, _, _ := bytes.Cut(input, []byte("\r\n\r\n"))
		if why := smuggling(head); why != "" {
			t.Fatalf("the fast path served a request with %s:\n%q", why, input)
		}
	}
	fastAns, stdAns := answers(t, fastOut), answers(t, stdOut)
	if slices.Equal(fastAns, stdAns) {
		return
	}
	// The fast path closes the connection on a body cut short instead of handing the handler a
	// short body: what it answered must then be what net/http answered before that request.
	n := len(fastReqs)
	if len(fastAns) > len(stdAns) || !slices.Equal(fastAns, stdAns[:len(fastAns)]) || n >= len(stdReqs) || !stdReqs[n].bodyErr {
		t.Fatalf("answers differ:\nfast     %q\nnet/http %q\ninput %q", fastOut, stdOut, input)
	}
}

// answers splits a connection's output into its responses, each rendered as status, headers
// but Date (sorted: their order on the wire carries no meaning) and body.
func answers(t *testing.T, out string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(out))
	var list []string
	for {
		if _, err := br.Peek(1); err != nil {
			return list
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("unreadable answer after %d: %v\n%q", len(list), err, out)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("answer %d body: %v\n%q", len(list), err, out)
		}
		resp.Header.Del("Date")
		var hdr []string
		for k, vs := range resp.Header {
			hdr = append(hdr, k+": "+strings.Join(vs, ", "))
		}
		slices.Sort(hdr)
		list = append(list, fmt.Sprintf("%s\n%s\n%d %q", resp.Status, strings.Join(hdr, "\n"), resp.ContentLength, body))
	}
}

var discardLog = newDiscardLog()

func differentialSeeds() []string {
	return []string{
		"GET /v2/keys/a HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /v2/keys/a?recursive=true&wait=false HTTP/1.1\r\nHost: h\r\nUser-Agent: etcdctl\r\nAccept-Encoding: gzip\r\n\r\n",
		"PUT /v2/keys/a HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\nvalue=1",
		"POST /v2/keys/q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabcGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
		"DELETE /v2/keys/a?prevIndex=3 HTTP/1.1\r\nHost: h\r\n\r\n",
		// Request smuggling: none of these may be served by the fast path.
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\ncontent-length: 4\r\n\r\nabcd",
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\rContent-Length: 5\r\n\r\nhello",
		"GET /a HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n Content-Length: 5\r\n\r\nhello",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n",
		"GET /a HTTP/1.1\nHost: h\n\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\nabcd",
		"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0x4\r\n\r\nabcd",
		// Other shapes near the edge of the subset.
		"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
		"GET /a HTTP/1.1\r\n\r\n",
		"GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n",
		"PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nshort",
		"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xe9\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: [::1]:2379\r\n\r\n",
	}
}

func TestDifferentialSeeds(t *testing.T) {
	for _, s := range differentialSeeds() {
		checkDifferential(t, []byte(s))
	}
}

// FuzzDifferential runs any bytes through both servers (see checkDifferential).
func FuzzDifferential(f *testing.F) {
	for _, s := range differentialSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		if len(input) > 4<<10 {
			return
		}
		checkDifferential(t, input)
	})
}

// newDiscardLog keeps net/http's complaints about bad requests out of the test output.
func newDiscardLog() *log.Logger { return log.New(io.Discard, "", 0) }
