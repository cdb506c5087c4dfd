package fastpath

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echo answers with what it saw, and which path served it.
type echo struct {
	fast    atomic.Int64
	slow    atomic.Int64
	block   chan struct{} // when set, /block waits on it
	entered chan struct{}
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := w.(*response); ok {
		e.fast.Add(1)
		w.Header().Set("X-Path", "fast")
	} else {
		e.slow.Add(1)
		w.Header().Set("X-Path", "slow")
	}
	if r.URL.Path == "/block" {
		e.entered <- struct{}{}
		<-e.block
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Injected", "a\r\nX-Evil: 1")
	if r.URL.Path == "/status" {
		w.WriteHeader(http.StatusTeapot)
	}
	fmt.Fprintf(w, "%s %s q=%s ct=%s host=%s body=%s", r.Method, r.URL.Path, r.URL.RawQuery,
		r.Header.Get("Content-Type"), r.Host, body)
}

func start(t *testing.T, h http.Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Handler:  h,
		Fast:     func(method, path, q string) bool { return !strings.Contains(q, "slow") },
		Fallback: &http.Server{Handler: h},
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, ln.Addr().String()
}

// exchange writes raw bytes and reads n answers with net/http's parser.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, raw string, method string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResp(t, br, method)
}

func readResp(t *testing.T, br *bufio.Reader, method string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	resp.Header.Set("X-Body", string(b))
	return resp
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestFastAndHandedOverAnswerAlike(t *testing.T) {
	h := &echo{}
	_, addr := start(t, h)
	cases := []struct {
		name, raw, method, want, path string
		status                        int
	}{
		{"get", "GET /v2/keys/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "GET /v2/keys/a q=x=1 ct= host=h body=", "fast", 200},
		{"put form", "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\nvalue=1",
			"PUT", "PUT /k q= ct=application/x-www-form-urlencoded host=h body=value=1", "fast", 200},
		{"header case", "DELETE /k HTTP/1.1\r\nhOsT: h\r\ncontent-TYPE:  text/x \r\ncontent-length: 0\r\n\r\n", "DELETE", "DELETE /k q= ct=text/x host=h body=", "fast", 200},
		{"status", "POST /status HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab", "POST", "POST /status q= ct= host=h body=ab", "fast", 418},
		{"caller says slow", "GET /k?slow HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "GET /k q=slow ct= host=h body=", "slow", 200},
		{"head", "HEAD /k HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD", "", "slow", 200},
		{"escaped target", "GET /v2/keys/a%20b HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "GET /v2/keys/a b q= ct= host=h body=", "slow", 200},
		{"chunked body", "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "PUT", "PUT /k q= ct= host=h body=abc", "slow", 200},
		{"expect", "PUT /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz", "PUT", "PUT /k q= ct= host=h body=z", "slow", 200},
		{"bare LF", "GET /k HTTP/1.1\nHost: h\n\n", "GET", "GET /k q= ct= host=h body=", "slow", 200},
		{"lower-case method", "get /k HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "get /k q= ct= host=h body=", "slow", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			resp := exchange(t, c, br, tc.raw, tc.method)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("X-Path"); got != tc.path {
				t.Errorf("served by %s, want %s", got, tc.path)
			}
			if got := resp.Header.Get("X-Body"); got != tc.want {
				t.Errorf("body %q, want %q", got, tc.want)
			}
			if resp.Header.Get("X-Evil") != "" {
				t.Errorf("a header value ended the header block early")
			}
			if resp.Header.Get("Date") == "" {
				t.Errorf("no Date header")
			}
		})
	}
}

func TestRefusedByNetHTTP(t *testing.T) {
	_, addr := start(t, &echo{})
	for name, raw := range map[string]string{
		"no host":           "GET /k HTTP/1.1\r\n\r\n",
		"two lengths":       "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"space in name":     "GET /k HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
		"bad length":        "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
		"header too big":    "GET /k HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"unknown version":   "GET /k HTTP/2.7\r\nHost: h\r\n\r\n",
		"control in header": "GET /k HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, br := dial(t, addr)
			go io.WriteString(c, raw)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode < 400 {
				t.Errorf("status %d: a request net/http refuses was served", resp.StatusCode)
			}
		})
	}
}

func TestKeepAliveAndPipelining(t *testing.T) {
	h := &echo{}
	_, addr := start(t, h)
	c, br := dial(t, addr)
	// Three requests in one write, the last one slow: the fast path answers two in order and
	// hands the connection over with the third still unread.
	raw := "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
		"PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" +
		"GET /c?slow HTTP/1.1\r\nHost: h\r\n\r\n"
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GET /a q= ct= host=h body=", "PUT /b q= ct= host=h body=xyz", "GET /c q=slow ct= host=h body="} {
		resp := readResp(t, br, "GET")
		if got := resp.Header.Get("X-Body"); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
	// The connection now belongs to net/http, and stays usable.
	resp := exchange(t, c, br, "GET /d HTTP/1.1\r\nHost: h\r\n\r\n", "GET")
	if resp.Header.Get("X-Path") != "slow" || resp.StatusCode != 200 {
		t.Fatalf("after hand-over: %v %s", resp.StatusCode, resp.Header.Get("X-Path"))
	}
	if h.fast.Load() != 2 || h.slow.Load() != 2 {
		t.Fatalf("fast %d slow %d, want 2 and 2", h.fast.Load(), h.slow.Load())
	}
}

func TestRequestStateDoesNotLeak(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s|%s|%v", r.Header.Get("X-A"), r.Form.Get("v"), r.ContentLength))
		mu.Unlock()
		w.Header().Set("X-Only-Once", r.Header.Get("X-A"))
	})
	_, addr := start(t, h)
	c, br := dial(t, addr)
	r1 := exchange(t, c, br, "PUT /k?v=1 HTTP/1.1\r\nHost: h\r\nX-A: one\r\nContent-Length: 3\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nv=2", "PUT")
	r2 := exchange(t, c, br, "GET /k HTTP/1.1\r\nHost: h\r\n\r\n", "GET")
	if r1.Header.Get("X-Only-Once") != "one" || r2.Header.Get("X-Only-Once") != "" {
		t.Fatalf("response headers leaked: %q %q", r1.Header.Values("X-Only-Once"), r2.Header.Values("X-Only-Once"))
	}
	want := []string{"one|2|3", "||0"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("requests seen %q, want %q", seen, want)
	}
}

func TestShortBodyClosesWithoutServing(t *testing.T) {
	h := &echo{}
	_, addr := start(t, h)
	c, br := dial(t, addr)
	io.WriteString(c, "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
	c.(*net.TCPConn).CloseWrite()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read %v, want EOF", err)
	}
	if h.fast.Load()+h.slow.Load() != 0 {
		t.Fatal("a request with a short body reached the handler")
	}
}

func TestShutdownWaitsForRequestInProgress(t *testing.T) {
	h := &echo{block: make(chan struct{}), entered: make(chan struct{})}
	s, addr := start(t, h)
	busy, busyR := dial(t, addr)
	idle, idleR := dial(t, addr)
	exchange(t, idle, idleR, "GET /warm HTTP/1.1\r\nHost: h\r\n\r\n", "GET")
	io.WriteString(busy, "GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	<-h.entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// The idle connection is closed at once; the busy one keeps its request.
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in progress", err)
	default:
	}
	close(h.block)
	resp := readResp(t, busyR, "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestShutdownDeadlineClosesStragglers(t *testing.T) {
	h := &echo{block: make(chan struct{}), entered: make(chan struct{})}
	defer close(h.block)
	s, addr := start(t, h)
	c, br := dial(t, addr)
	io.WriteString(c, "GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	<-h.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("straggler got an answer instead of a close")
	}
	h.block <- struct{}{}
	if err := <-errc; err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want deadline exceeded", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &echo{}
	s := &Server{Handler: h, Fast: func(string, string, string) bool { return true },
		Fallback: &http.Server{Handler: h}, IdleTimeout: 50 * time.Millisecond}
	go s.Serve(ln)
	defer s.Close()
	c, br := dial(t, ln.Addr().String())
	exchange(t, c, br, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF after the idle timeout", err)
	}
}

func TestIndexEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int
		bare bool
	}{
		{"GET / HTTP/1.1\r\n\r\n", 18, false},
		{"GET / HTTP/1.1\r\nA: b\r\n\r\nrest", 24, false},
		{"GET / HTTP/1.1\r\n", -1, false},
		{"GET / HTTP/1.1\n\n", -1, true},
		{"GET / HTTP/1.1\r\nA: b\n\r\n", -1, true},
	} {
		end, bare := indexEnd([]byte(tc.in), 0)
		if end != tc.end || bare != tc.bare {
			t.Errorf("indexEnd(%q) = %d, %v; want %d, %v", tc.in, end, bare, tc.end, tc.bare)
		}
	}
}

func BenchmarkFastGet(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", "12")
		io.WriteString(w, `{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":3,"createdIndex":3}}`)
	})
	for _, mode := range []string{"fast", "net-http"} {
		b.Run(mode, func(b *testing.B) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			var serve func() error
			var stop func()
			if mode == "fast" {
				s := &Server{Handler: h, Fast: func(string, string, string) bool { return true }, Fallback: &http.Server{Handler: h}}
				serve, stop = func() error { return s.Serve(ln) }, func() { s.Close() }
			} else {
				s := &http.Server{Handler: h}
				serve, stop = func() error { return s.Serve(ln) }, func() { s.Close() }
			}
			go serve()
			defer stop()
			c, _ := net.Dial("tcp", ln.Addr().String())
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET /v2/keys/k HTTP/1.1\r\nHost: h\r\nUser-Agent: bench\r\n\r\n")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Write(req)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
