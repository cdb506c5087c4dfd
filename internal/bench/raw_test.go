package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	long := strings.Repeat("x", 40000) // beyond the read buffer
	for _, c := range []struct {
		name   string
		in     string
		head   bool
		status int
		index  uint64
		body   string
		close  bool
		err    bool
		// rest is what must remain unread: a reply must consume exactly itself.
		rest string
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Etcd-Index: 42\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1",
			status: 200, index: 42, body: "hello", rest: "HTTP/1.1"},
		{name: "header names in any case, values trimmed", in: "HTTP/1.1 201 Created\r\ncontent-LENGTH:  3 \r\nx-etcd-index:\t7\r\n\r\nabc",
			status: 201, index: 7, body: "abc"},
		{name: "reason phrase optional", in: "HTTP/1.1 404\r\nContent-Length: 2\r\n\r\n{}", status: 404, body: "{}"},
		{name: "bare LF line ends", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", status: 200, body: "ok"},
		{name: "large content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + long, status: 200, body: long},
		{name: "chunked with extensions and trailers",
			in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Etcd-Index: 9\r\n\r\n" +
				"5;name=value\r\nhello\r\n1 ; x\r\n,\r\n6\r\n world\r\n0;last\r\nX-Trailer: a\r\nOther: b\r\n\r\nnext",
			status: 200, index: 9, body: "hello, world", rest: "next"},
		{name: "chunked wins over content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
			status: 200, body: "0123456789"},
		{name: "chunked upper-case hex, large", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n9C40\r\n" + long + "\r\n0\r\n\r\n",
			status: 200, body: long},
		{name: "HEAD has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 120\r\nX-Etcd-Index: 3\r\n\r\nHTTP/1.1 200", head: true,
			status: 200, index: 3, rest: "HTTP/1.1 200"},
		{name: "204 has no body", in: "HTTP/1.1 204 No Content\r\n\r\nnext", status: 204, rest: "next"},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nnext", status: 304, rest: "next"},
		{name: "informational reply skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", status: 200, body: "z"},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", close: true},
		{name: "connection close among tokens", in: "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", status: 200, close: true},
		{name: "HTTP/1.0 closes by default", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", close: true},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "no length: body to EOF, then close", in: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, body: "all of it", close: true},
		{name: "malformed status line", in: "HTTP/1.1 OK 200\r\n\r\n", err: true},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", err: true},
		{name: "status without separator", in: "HTTP/1.1 2000\r\n\r\n", err: true},
		{name: "malformed header", in: "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", err: true},
		{name: "folded header", in: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n", err: true},
		{name: "bad content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n1", err: true},
		{name: "conflicting content-lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12", err: true},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", err: true},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Len", err: true},
		{name: "truncated chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n01234", err: true},
		{name: "missing last chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", err: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", err: true},
		{name: "chunk longer than its size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", err: true},
		{name: "header line beyond the buffer", in: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(c.in), 4096)
			r, started, err := readResponse(br, c.head, []byte("stale"))
			if !started {
				t.Errorf("started = false for a reply that began")
			}
			if c.err {
				if err == nil {
					t.Fatalf("no error; got status %d body %q", r.Status, r.Body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.status || r.Index != c.index || string(r.Body) != c.body || r.close != c.close {
				t.Fatalf("got status %d index %d close %v body %.40q, want %d %d %v %.40q",
					r.Status, r.Index, r.close, r.Body, c.status, c.index, c.close, c.body)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != c.rest {
				t.Fatalf("left unread %q, want %q", rest, c.rest)
			}
		})
	}
}

// A reply cut short is io.ErrUnexpectedEOF (a "transport-eof"), and only a
// connection that yielded nothing at all reports started = false.
func TestReadResponseEOF(t *testing.T) {
	_, started, err := readResponse(bufio.NewReader(strings.NewReader("")), false, nil)
	if started || err != io.EOF {
		t.Fatalf("empty stream: started %v err %v, want false, io.EOF", started, err)
	}
	_, started, err = readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")), false, nil)
	if !started || err != io.ErrUnexpectedEOF || Classify(0, nil, err) != "transport-eof" {
		t.Fatalf("truncated body: started %v err %v", started, err)
	}
}

func TestAppendRequest(t *testing.T) {
	for _, c := range []struct {
		method, key, query, auth string
		form                     []byte
		want                     string
	}{
		{"GET", "/bench/k01", "consistency=serializable", "", nil,
			"GET /v2/keys/bench/k01?consistency=serializable HTTP/1.1\r\nHost: h:1\r\n\r\n"},
		{"PUT", "/a", "prevIndex=3", "", []byte("value=xy"),
			"PUT /v2/keys/a?prevIndex=3 HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\nvalue=xy"},
		{"PUT", "/dir", "dir=true", "", nil, "PUT /v2/keys/dir?dir=true HTTP/1.1\r\nHost: h:1\r\nContent-Length: 0\r\n\r\n"},
		{"DELETE", "/a b?%", "", "", nil, "DELETE /v2/keys/a%20b%3F%25 HTTP/1.1\r\nHost: h:1\r\n\r\n"},
		{"GET", "/k", "", "Basic dTpw", nil, "GET /v2/keys/k HTTP/1.1\r\nHost: h:1\r\nAuthorization: Basic dTpw\r\n\r\n"},
	} {
		if got := string(appendRequest(nil, c.method, "h:1", c.key, c.query, c.auth, c.form)); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// etcdish serves just enough of the v2 keys API for these tests and counts the
// connections it accepted. Servers made from one store share its keys, like
// the members of a cluster.
type etcdish struct {
	*httptest.Server
	*store
	conns atomic.Int64
	// open and openPeak count connections open at once: a connection net/http replaces
	// after the old one broke adds to conns, not to openPeak.
	open, openPeak atomic.Int64
	// inFlight and peak count concurrent requests.
	inFlight, peak atomic.Int64
}

type store struct {
	index  atomic.Uint64
	mu     sync.Mutex
	values map[string]string
}

func newStore() *store { return &store{values: map[string]string{}} }

func newEtcdish(t testing.TB, st *store) *etcdish {
	e := &etcdish{store: st}
	index := &st.index
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.inFlight.Add(1)
		defer e.inFlight.Add(-1)
		for p := e.peak.Load(); n > p && !e.peak.CompareAndSwap(p, n); p = e.peak.Load() {
		}
		key := strings.TrimPrefix(r.URL.Path, "/v2/keys")
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPut:
			i := index.Add(1)
			e.mu.Lock()
			e.values[key] = r.FormValue("value")
			e.mu.Unlock()
			w.Header().Set("X-Etcd-Index", strconv.FormatUint(i, 10))
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"action":"set","node":{"key":%q,"value":%q,"modifiedIndex":%d,"createdIndex":%d}}`, key, r.FormValue("value"), i, i)
		case http.MethodGet, http.MethodHead:
			e.mu.Lock()
			v, ok := e.values[key]
			e.mu.Unlock()
			w.Header().Set("X-Etcd-Index", strconv.FormatUint(index.Load(), 10))
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"errorCode":100,"message":"Key not found","cause":%q}`, key)
				return
			}
			// No Content-Length: a value beyond the server's buffer comes chunked.
			fmt.Fprintf(w, `{"action":"get","node":{"key":%q,"value":%q,"modifiedIndex":1,"createdIndex":1}}`, key, v)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	e.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			e.conns.Add(1)
			n := e.open.Add(1)
			for p := e.openPeak.Load(); n > p && !e.openPeak.CompareAndSwap(p, n); p = e.openPeak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			e.open.Add(-1)
		}
	}
	e.Start()
	t.Cleanup(e.Close)
	return e
}

func newRawClient(t testing.TB, conns int, endpoints ...string) *Client {
	t.Helper()
	cl, err := NewClient(endpoints, conns, 5*time.Second, RawHTTP, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Impl() != RawHTTP {
		t.Fatalf("client is %s", cl.Impl())
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestRawKeepAliveAndBodies(t *testing.T) {
	e := newEtcdish(t, newStore())
	c := newRawClient(t, 1, e.URL).NewConn(context.Background(), 0)
	big := strings.Repeat("v", 64<<10) // chunked by the server: beyond its buffer
	for i, v := range []string{"small", big, "x"} {
		resp, err := c.Do(http.MethodPut, "/k", "", []byte("value="+v))
		if err != nil || resp.Status != http.StatusCreated || resp.Index != uint64(i+1) {
			t.Fatalf("put %d: status %d index %d err %v", i, resp.Status, resp.Index, err)
		}
		for range 20 {
			resp, err = c.Do(http.MethodGet, "/k", "", nil)
			if err != nil || resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"value":"`+v+`"`) {
				t.Fatalf("get after put %d: status %d err %v body %.80q", i, resp.Status, err, resp.Body)
			}
		}
		resp, err = c.Do(http.MethodHead, "/k", "", nil)
		if err != nil || resp.Status != http.StatusOK || len(resp.Body) != 0 {
			t.Fatalf("head: status %d err %v body %.40q", resp.Status, err, resp.Body)
		}
	}
	resp, err := c.Do(http.MethodGet, "/missing", "", nil)
	if err != nil || Classify(resp.Status, resp.Body, err) != "etcd-100" {
		t.Fatalf("missing key: status %d err %v", resp.Status, err)
	}
	if n := e.conns.Load(); n != 1 {
		t.Fatalf("%d connections for one worker's requests, want 1 kept alive", n)
	}
}

func TestRawConnectionClose(t *testing.T) {
	// The server says close but leaves the connection open, and answers no
	// second request on it: reusing it would hang until the timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reply := []byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
	var accepted atomic.Int64
	go func() {
		var held []net.Conn
		defer func() {
			for _, nc := range held {
				nc.Close()
			}
		}()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held = append(held, nc)
			go func() {
				if readRequest(bufio.NewReader(nc)) == nil {
					nc.Write(reply)
				}
			}()
		}
	}()
	cl, err := NewClient([]string{"http://" + ln.Addr().String()}, 1, 2*time.Second, RawHTTP, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := cl.NewConn(context.Background(), 0)
	for i := range 3 {
		resp, err := c.Do(http.MethodGet, "/k", "", nil)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("request %d: status %d err %v", i, resp.Status, err)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3: Connection: close must not be reused", n)
	}
}

// A connection idle for longer than the timeout is still good: the probe
// before a PUT must not mistake the last request's expired deadline for a
// close.
func TestRawIdleBeyondTimeout(t *testing.T) {
	e := newEtcdish(t, newStore())
	const timeout = 50 * time.Millisecond
	cl, err := NewClient([]string{e.URL}, 1, timeout, RawHTTP, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := cl.NewConn(context.Background(), 0)
	if _, err := c.Do(http.MethodPut, "/k", "", []byte("value=1")); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 2*timeout; {
		time.Sleep(timeout / 5) // waiting for the deadline to pass is the point
	}
	if _, err := c.Do(http.MethodPut, "/k", "", []byte("value=2")); err != nil {
		t.Fatal(err)
	}
	if n := e.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the idle one reused", n)
	}
}

// Bytes after a reply that nobody asked for put the connection out of step:
// the next request goes on a fresh one rather than reading them as its reply.
func TestRawStrayBytesDropConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for readRequest(br) == nil {
					if _, err := nc.Write(append(cannedReply[:len(cannedReply):len(cannedReply)], "junk\r\n"...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	c := newRawClient(t, 1, "http://"+ln.Addr().String()).NewConn(context.Background(), 0)
	for i := range 3 {
		resp, err := c.Do(http.MethodGet, "/k", "", nil)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("request %d: status %d err %v", i, resp.Status, err)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// A server closing idle connections: a GET is resent on a fresh connection; a
// PUT is not sent on the dead one in the first place.
func TestRawServerClosedIdle(t *testing.T) {
	e := newEtcdish(t, newStore())
	cl := newRawClient(t, 1, e.URL)
	c := cl.NewConn(context.Background(), 0)
	form := []byte("value=v")
	if _, err := c.Do(http.MethodPut, "/k", "", form); err != nil {
		t.Fatal(err)
	}
	for i, method := range []string{http.MethodGet, http.MethodPut, http.MethodGet} {
		e.CloseClientConnections()
		if method == http.MethodPut {
			waitDead(t, cl)
		}
		var f []byte
		if method == http.MethodPut {
			f = form
		}
		resp, err := c.Do(method, "/k", "", f)
		if err != nil || resp.Status/100 != 2 {
			t.Fatalf("%s after the server closed the idle connection: status %d err %v", method, resp.Status, err)
		}
		if n := e.conns.Load(); n != int64(i+2) {
			t.Fatalf("%d connections after %d closes, want %d", n, i+1, i+2)
		}
	}
}

// waitDead polls until the client's idle connection sees the server's close.
func waitDead(t *testing.T, cl *Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc := <-cl.pools[0].idle
		dead := rc.nc != nil && !rc.alive()
		cl.pools[0].put(rc)
		if dead {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never saw the server close its connection")
		}
		time.Sleep(time.Millisecond)
	}
}

// scripted is a raw TCP server: on its n-th accepted connection it answers
// answer(n) requests with the canned reply, then reads one more and hangs up
// without a word.
type scripted struct {
	ln       net.Listener
	requests atomic.Int64
	accepted atomic.Int64
}

func newScripted(t testing.TB, answer func(conn int) int) *scripted {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := answer(int(s.accepted.Add(1)))
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for i := 0; ; i++ {
					if readRequest(br) != nil {
						return
					}
					s.requests.Add(1)
					if i >= n {
						return
					}
					if _, err := nc.Write(cannedReply); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

// cannedReply is a []byte so that writing it does not allocate a copy.
var cannedReply = func() []byte {
	body := `{"action":"get","node":{"key":"/bench/k0001","value":"` + strings.Repeat("v", 256) + `","modifiedIndex":5,"createdIndex":5}}`
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Etcd-Index: 5\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// readRequest consumes one request (head and Content-Length body) without
// allocating, so the canned server does not blur the client's allocation count.
func readRequest(br *bufio.Reader) error {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if i := indexByte(line, ':'); i > 0 && equalFold(line[:i], "content-length") {
			v, _ := parseDecimal(trimSpace(line[i+1:]))
			n = int(v)
		}
	}
	_, err := br.Discard(n)
	return err
}

func (s *scripted) url() string { return "http://" + s.ln.Addr().String() }

func TestRawRetriesOnceOnlyWhenSafe(t *testing.T) {
	// The first connection answers one request and hangs up on the second;
	// every later one hangs up on its first.
	once := func(conn int) int {
		if conn == 1 {
			return 1
		}
		return 0
	}

	t.Run("GET resent once on a fresh connection", func(t *testing.T) {
		s := newScripted(t, once)
		c := newRawClient(t, 1, s.url()).NewConn(context.Background(), 0)
		if _, err := c.Do(http.MethodGet, "/k", "", nil); err != nil {
			t.Fatal(err)
		}
		_, err := c.Do(http.MethodGet, "/k", "", nil)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("err %v, want the fresh connection's EOF", err)
		}
		if a, r := s.accepted.Load(), s.requests.Load(); a != 2 || r != 3 {
			t.Fatalf("%d connections, %d requests; want 2 and 3: exactly one retry", a, r)
		}
	})
	t.Run("PUT that reached the server is not resent", func(t *testing.T) {
		s := newScripted(t, once)
		c := newRawClient(t, 1, s.url()).NewConn(context.Background(), 0)
		if _, err := c.Do(http.MethodPut, "/k", "", []byte("value=1")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Do(http.MethodPut, "/k", "", []byte("value=2"))
		if Classify(0, nil, err) != "transport-eof" {
			t.Fatalf("err %v, want an EOF", err)
		}
		if a, r := s.accepted.Load(), s.requests.Load(); a != 1 || r != 2 {
			t.Fatalf("%d connections, %d requests; want 1 and 2: no retry", a, r)
		}
	})
	t.Run("no retry once part of the reply arrived", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var accepted, requests atomic.Int64
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				go func() {
					defer nc.Close()
					br := bufio.NewReader(nc)
					if readRequest(br) != nil {
						return
					}
					requests.Add(1)
					nc.Write(cannedReply)
					if readRequest(br) != nil {
						return
					}
					requests.Add(1)
					nc.Write(cannedReply[:40]) // cut in the headers
				}()
			}
		}()
		c := newRawClient(t, 1, "http://"+ln.Addr().String()).NewConn(context.Background(), 0)
		if _, err := c.Do(http.MethodGet, "/k", "", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.Do(http.MethodGet, "/k", "", nil)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("err %v, want io.ErrUnexpectedEOF", err)
		}
		if a, r := accepted.Load(), requests.Load(); a != 1 || r != 2 {
			t.Fatalf("%d connections, %d requests; want 1 and 2: no retry", a, r)
		}
	})
	t.Run("fresh connection not retried", func(t *testing.T) {
		s := newScripted(t, func(int) int { return 0 })
		c := newRawClient(t, 1, s.url()).NewConn(context.Background(), 0)
		if _, err := c.Do(http.MethodGet, "/k", "", nil); !errors.Is(err, io.EOF) {
			t.Fatalf("err %v, want EOF", err)
		}
		if a := s.accepted.Load(); a != 1 {
			t.Fatalf("%d connections, want 1", a)
		}
	})
}

// --conns caps the connections, whatever the number of clients, spread over
// the endpoints: in the raw client's pools and in net/http's.
func TestConnsHonoured(t *testing.T) {
	for _, impl := range []HTTPImpl{RawHTTP, StdlibHTTP} {
		t.Run(string(impl), func(t *testing.T) {
			st := newStore()
			a, b := newEtcdish(t, st), newEtcdish(t, st)
			cfg := DefaultConfig()
			cfg.Workload, cfg.HTTP, cfg.Endpoints = Mixed, impl, []string{a.URL, b.URL}
			cfg.Clients, cfg.Conns, cfg.KeyCount, cfg.Total = 16, 4, 50, 400
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 400 || res.ErrTotal != 0 || res.HTTP != impl {
				t.Fatalf("ops %d errors %v http %s", res.Ops, res.Errors, res.HTTP)
			}
			// net/http may dial a connection's replacement before the server has seen the old
			// one close, so the server can count one more open for a moment; never more.
			openMax := int64(2)
			if impl == StdlibHTTP {
				openMax = 3
			}
			for i, e := range []*etcdish{a, b} {
				if n, o, p := e.conns.Load(), e.openPeak.Load(), e.peak.Load(); n < 1 || o > openMax || p > 2 {
					t.Errorf("endpoint %d: %d connections, %d open and %d requests at once; want at most 2 of each at once",
						i, n, o, p)
				}
			}
		})
	}
}

func TestRawConnsQueue(t *testing.T) {
	e := newEtcdish(t, newStore())
	cl := newRawClient(t, 1, e.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cl.NewConn(context.Background(), i)
			for range 25 {
				if _, err := c.Do(http.MethodPut, "/q", "", []byte("value=1")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, p := e.conns.Load(), e.peak.Load(); n != 1 || p != 1 {
		t.Fatalf("%d connections, %d requests at once; want 1 and 1 with --conns 1", n, p)
	}
}

func TestRawCancelAbortsRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		if readRequest(bufio.NewReader(nc)) == nil {
			got <- nc // held unanswered
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := NewClient([]string{"http://" + ln.Addr().String()}, 1, time.Hour, RawHTTP, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := cl.NewConn(ctx, 0)
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(http.MethodGet, "/k", "", nil)
		done <- err
	}()
	nc := <-got
	defer nc.Close()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request outlived its context")
	}
	if _, err := c.Do(http.MethodGet, "/k", "", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: err %v", err)
	}
	// The slot went back to the pool: another worker gets it.
	if _, err := cl.pools[0].get(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRawStreamingRefused(t *testing.T) {
	c := newRawClient(t, 1, "http://127.0.0.1:1").NewConn(context.Background(), 0)
	if _, err := c.Open("/k", "wait=true&stream=true"); !errors.Is(err, errStreamNeedsStdlib) {
		t.Fatalf("err %v", err)
	}
}

func TestHTTPSFallsBackToStdlib(t *testing.T) {
	cl, err := NewClient([]string{"https://127.0.0.1:1"}, 1, time.Second, RawHTTP, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Impl() != StdlibHTTP {
		t.Fatalf("impl %s for https", cl.Impl())
	}
}

// The raw client allocates nothing per request once its buffers have grown
// (the canned server allocates nothing either, so the count is the client's).
func TestRawDoesNotAllocate(t *testing.T) {
	s := newScripted(t, func(int) int { return 1 << 30 })
	c := newRawClient(t, 1, s.url()).NewConn(context.Background(), 0)
	form := []byte("value=" + strings.Repeat("v", 256))
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		var f []byte
		if m == http.MethodPut {
			f = form
		}
		if _, err := c.Do(m, "/bench/k0001", "consistency=serializable", f); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := c.Do(m, "/bench/k0001", "consistency=serializable", f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per request, want 0", m, allocs)
		}
	}
}

// BenchmarkConn compares the two request paths per GET: against a canned
// server that allocates nothing (allocs/op is then the client's alone) and
// against a net/http test server (allocs/op includes the server's).
//
//	go test -run x -bench Conn/ -benchmem ./internal/bench
func BenchmarkConn(b *testing.B) {
	e := newEtcdish(b, newStore())
	e.values["/bench/k0001"] = strings.Repeat("v", 256)
	canned := newScripted(b, func(int) int { return 1 << 30 }).url()
	for _, srv := range []struct{ name, url string }{{"canned", canned}, {"httptest", e.URL}} {
		for _, impl := range []HTTPImpl{RawHTTP, StdlibHTTP} {
			b.Run(srv.name+"/"+string(impl), func(b *testing.B) {
				cl, err := NewClient([]string{srv.url}, 1, 5*time.Second, impl, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				c := cl.NewConn(context.Background(), 0)
				b.ReportAllocs()
				for b.Loop() {
					resp, err := c.Do(http.MethodGet, "/bench/k0001", "consistency=serializable", nil)
					if err != nil || resp.Status != http.StatusOK {
						b.Fatalf("status %d err %v", resp.Status, err)
					}
				}
			})
		}
	}
}
