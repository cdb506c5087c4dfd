package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFramesRoundTrip(t *testing.T) {
	req := &Request{Flags: 5, Timeout: 1500 * time.Millisecond, Body: []byte("command bytes")}
	f := encodeRequest(req)
	putID(f, 77)
	if got := binary.BigEndian.Uint32(f); int(got) != len(f)-frameHeaderLen || int(got) != requestPayloadLen(len(req.Body)) {
		t.Fatalf("length prefix %d for a frame of %d", got, len(f))
	}
	id, back, err := decodeRequest(f[frameHeaderLen:])
	if err != nil || id != 77 || back.Flags != 5 || back.Timeout != req.Timeout || string(back.Body) != "command bytes" {
		t.Fatalf("request round trip: %v %d %+v", err, id, back)
	}
	// Under a millisecond left still bounds the leader; none at all does not.
	for _, c := range []struct{ in, out time.Duration }{{time.Microsecond, time.Millisecond}, {0, 0}, {-time.Second, 0}} {
		_, r, _ := decodeRequest(encodeRequest(&Request{Timeout: c.in})[frameHeaderLen:])
		if r.Timeout != c.out {
			t.Fatalf("timeout %v came back as %v, want %v", c.in, r.Timeout, c.out)
		}
	}

	rep := &Reply{Status: 201, Fields: []Field{{"Content-Type", "application/json"}, {"X-Etcd-Index", "12"}, {"", ""}},
		Body: []byte(`{"action":"set"}` + "\n")}
	f, err = encodeReply(9, rep)
	if err != nil {
		t.Fatal(err)
	}
	id, got, err := decodeReply(f[frameHeaderLen:])
	if err != nil || id != 9 || got.Status != 201 || got.NotLeader || !bytes.Equal(got.Body, rep.Body) || fmt.Sprint(got.Fields) != fmt.Sprint(rep.Fields) {
		t.Fatalf("reply round trip: %v %d %+v", err, id, got)
	}
	f, _ = encodeReply(3, &Reply{NotLeader: true})
	if _, got, err := decodeReply(f[frameHeaderLen:]); err != nil || !got.NotLeader || got.Fields != nil || len(got.Body) != 0 {
		t.Fatalf("not-leader reply: %v %+v", err, got)
	}
	if _, err := encodeReply(1, &Reply{Fields: make([]Field, 256)}); err == nil {
		t.Fatal("encoded 256 header fields into a one-byte count")
	}
}

func TestMalformedFramesAreRefused(t *testing.T) {
	good, _ := encodeReply(1, &Reply{Status: 200, Fields: []Field{{"A", "b"}}, Body: []byte("x")})
	p := good[frameHeaderLen:]
	bad := map[string][]byte{
		"short reply":      p[:replyFixedLen-1],
		"unknown kind":     append(append([]byte{}, p[:8]...), append([]byte{9}, p[9:]...)...),
		"field count lies": append(append([]byte{}, p[:11]...), append([]byte{3}, p[12:]...)...),
		"field truncated":  p[:replyFixedLen+2],
		"field length huge": append(append([]byte{}, p[:replyFixedLen]...),
			binary.AppendUvarint(nil, 1<<40)...),
	}
	for name, b := range bad {
		if _, _, err := decodeReply(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decoded (%v)", name, err)
		}
	}
	if _, _, err := decodeRequest(make([]byte, requestFixedLen-1)); !errors.Is(err, errMalformed) {
		t.Errorf("short request decoded (%v)", err)
	}

	// A frame over the limit is refused from its length alone, before anything is allocated
	// for it; a truncated one is an unexpected EOF, never a short payload.
	var huge bytes.Buffer
	huge.Write(binary.BigEndian.AppendUint32(nil, 1<<31))
	if _, err := readFrame(bufio.NewReader(&huge), 1<<20); !errors.Is(err, errMalformed) {
		t.Fatalf("oversize frame: %v", err)
	}
	var cut bytes.Buffer
	cut.Write(binary.BigEndian.AppendUint32(nil, 10))
	cut.WriteString("abc")
	if _, err := readFrame(bufio.NewReader(&cut), 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v", err)
	}

	// Hellos that are not ours.
	if _, _, err := parseClientHello([]byte("GET / HTTP/1")); !errors.Is(err, errMalformed) {
		t.Fatalf("HTTP as a client hello: %v", err)
	}
	if _, err := parseServerHello([]byte("HTTP/1.1 400 Bad")); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("HTTP as a server hello: %v", err)
	}
}

// countingWriter counts the writes that reach the socket; the test reads it while the writer
// writes.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

// written is how many writes were made and how many test frames they carried.
func (w *countingWriter) written() (writes, frames int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, bytes.Count(w.buf.Bytes(), []byte("frame "))
}

// waitFrames waits until n test frames were written and reports the writes they took.
func (w *countingWriter) waitFrames(t *testing.T, n int) int {
	t.Helper()
	waitFor(t, "the frames to be written", func() bool { _, f := w.written(); return f == n })
	writes, _ := w.written()
	return writes
}

// frameQueue is a writer's queue as the client and the server keep theirs.
type frameQueue struct {
	mu     sync.Mutex
	queue  [][]byte
	closed bool
}

func (q *frameQueue) push(f []byte) {
	q.mu.Lock()
	q.queue = append(q.queue, f)
	q.mu.Unlock()
}

func (q *frameQueue) take(buf [][]byte) ([][]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return buf, false
	}
	buf = append(buf, q.queue...)
	q.queue = nil
	return buf, true
}

// runWriter runs writeLoop on q into out until stop, which checks that it ended as closed.
func runWriter(t *testing.T, q *frameQueue, out *countingWriter) (wake chan struct{}, stop func()) {
	wake = make(chan struct{}, 1)
	done := make(chan error)
	go func() { done <- writeLoop(bufio.NewWriterSize(out, 32<<10), wake, q.take, metrics.New()) }()
	return wake, func() {
		t.Helper()
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		signal(wake)
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("writer ended with %v", err)
		}
	}
}

func testFrame(i int) []byte {
	f := encodeRequest(&Request{Body: []byte(fmt.Sprintf("frame %d", i))})
	putID(f, uint64(i))
	return f
}

// readFrames reads n frames back in order.
func readFrames(t *testing.T, out *countingWriter, n int) {
	t.Helper()
	br := bufio.NewReader(&out.buf)
	for i := 0; i < n; i++ {
		p, err := readFrame(br, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		id, req, _ := decodeRequest(p)
		if id != uint64(i) || string(req.Body) != fmt.Sprintf("frame %d", i) {
			t.Fatalf("frame %d came out as %d %q", i, id, req.Body)
		}
	}
}

func TestWriterCoalescesQueuedFrames(t *testing.T) {
	q := &frameQueue{}
	for i := 0; i < 100; i++ {
		q.push(testFrame(i))
	}
	out := &countingWriter{}
	wake, stop := runWriter(t, q, out)
	signal(wake)
	signal(wake) // a second wake-up finds nothing and writes nothing
	writes := out.waitFrames(t, 100)
	stop()
	if writes != 1 {
		t.Fatalf("100 queued frames took %d writes, want 1", writes)
	}
	readFrames(t, out, 100)
}

// Frames whose producers are runnable when the writer wakes (the answers of one applied raft
// batch) go out in one write: the writer lets them run before it flushes. On one processor the
// woken writer runs right after the first producer, before the others, so without that yield
// every frame would take its own write.
func TestWriterGathersFramesOfRunnableProducers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const producers = 16
	q := &frameQueue{}
	out := &countingWriter{}
	wake, stop := runWriter(t, q, out)
	var wg sync.WaitGroup
	for i := 0; i < producers; i++ {
		wg.Go(func() {
			q.push(testFrame(i))
			signal(wake)
		})
	}
	wg.Wait()
	writes := out.waitFrames(t, producers)
	stop()
	if writes > 2 {
		t.Fatalf("%d frames from runnable producers took %d writes, want at most 2", producers, writes)
	}
}

// testServer is a relay server on a loopback listener that counts its connections.
type testServer struct {
	*Server
	ln      net.Listener
	addr    string
	handled atomic.Int64
	accepts atomic.Int64
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func newTestServer(t *testing.T, cluster uint64, handle func(ctx context.Context, req *Request) *Reply) *testServer {
	t.Helper()
	return newIndexServer(t, cluster, handle, nil)
}

// newIndexServer is newTestServer that also answers read-index requests with readIndex.
func newIndexServer(t *testing.T, cluster uint64, handle func(ctx context.Context, req *Request) *Reply,
	readIndex func(ctx context.Context) (uint64, error)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{ln: ln, addr: ln.Addr().String()}
	ts.Server = NewServer(ServerConfig{ClusterID: cluster, MaxBody: 1 << 10, Timeout: 5 * time.Second,
		Handle: func(ctx context.Context, req *Request) *Reply {
			ts.handled.Add(1)
			return handle(ctx, req)
		}, ReadIndex: readIndex})
	go func() { _ = ts.Serve(countingListener{ln, &ts.accepts}) }()
	t.Cleanup(func() { ln.Close(); ts.Close() })
	return ts
}

func (ts *testServer) conns() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.Server.conns)
}

func echo(ctx context.Context, req *Request) *Reply {
	return &Reply{Status: 200, Fields: []Field{{"X-Flags", fmt.Sprint(req.Flags)}}, Body: req.Body}
}

func newTestClient(t *testing.T, cluster uint64) *Client {
	t.Helper()
	d := &net.Dialer{}
	c := NewClient(ClientConfig{ClusterID: cluster, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}})
	t.Cleanup(c.Close)
	return c
}

func TestManyRequestsShareAFewConnections(t *testing.T) {
	ts := newTestServer(t, 1, echo)
	c := newTestClient(t, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("request %d", i)
			flags := uint8(i) & 0x3f
			r, err := c.Do(context.Background(), ts.addr, &Request{Flags: flags, Body: []byte(body)})
			switch {
			case err != nil:
				errs <- err
			case string(r.Body) != body || r.Fields[0].Value != fmt.Sprint(flags) || r.Status != 200:
				errs <- fmt.Errorf("request %d got %+v", i, r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ts.accepts.Load(); n > 2 {
		t.Fatalf("200 requests opened %d connections, want at most 2", n)
	}
	if n := ts.handled.Load(); n != 200 {
		t.Fatalf("server handled %d requests, want 200", n)
	}
}

func TestOtherClusterIsRefused(t *testing.T) {
	ts := newTestServer(t, 1, echo)
	c := newTestClient(t, 2)
	_, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("x")})
	if !errors.Is(err, ErrClusterMismatch) || errors.Is(err, ErrNotSent) {
		t.Fatalf("another cluster's request: %v", err)
	}
	if ts.handled.Load() != 0 {
		t.Fatal("the server handled another cluster's request")
	}
	waitFor(t, "the refused connection to close", func() bool { return ts.conns() == 0 })

	// A raw peer that lies about its cluster gets the refusal and a closed connection.
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write(appendClientHello(nil, 99))
	var b [serverHelloLen]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		t.Fatal(err)
	}
	if h, _ := parseServerHello(b[:]); h.status != statusClusterMismatch || h.clusterID != 1 {
		t.Fatalf("server hello %+v", h)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(b[:]); err == nil {
		t.Fatalf("connection stayed open after the refusal (read %d bytes)", n)
	}
}

// handshaken dials ts as a raw client of cluster 1 and completes the handshake.
func handshaken(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := handshake(nc, 1); err != nil {
		t.Fatal(err)
	}
	return nc
}

func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("server did not close the connection: %v", err)
	}
}

func TestServerDropsBadFrames(t *testing.T) {
	ts := newTestServer(t, 1, echo)

	// Oversize: the length alone condemns it.
	nc := handshaken(t, ts)
	_, _ = nc.Write(binary.BigEndian.AppendUint32(nil, uint32(requestPayloadLen(1<<10)+1)))
	expectClosed(t, nc)

	// Too short to be a request.
	nc = handshaken(t, ts)
	_, _ = nc.Write(append(binary.BigEndian.AppendUint32(nil, 3), 1, 2, 3))
	expectClosed(t, nc)

	// Garbage instead of a hello.
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	expectClosed(t, nc)

	if n := ts.handled.Load(); n != 0 {
		t.Fatalf("server handled %d bad frames", n)
	}
	// A good request on a fresh connection still works.
	c := newTestClient(t, 1)
	if r, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("ok")}); err != nil || string(r.Body) != "ok" {
		t.Fatalf("good request after bad ones: %v %+v", err, r)
	}
}

// TestHTTPServerIsUnsupported: a member of an earlier build takes the relay connection for
// HTTP. The follower must learn at once that it speaks no relay, not after a timeout.
func TestHTTPServerIsUnsupported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := NewClient(ClientConfig{ClusterID: 1, DialTimeout: time.Minute, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Do(ctx, ln.Addr().String(), &Request{Body: []byte("x")}); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotSent) {
		t.Fatalf("relay to an HTTP server: %v", err)
	}
}

func TestRequestOverTheLeadersLimitIsNotSent(t *testing.T) {
	ts := newTestServer(t, 1, echo)
	c := newTestClient(t, 1)
	_, err := c.Do(context.Background(), ts.addr, &Request{Body: make([]byte, 1<<10+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize request: %v", err)
	}
	if r, err := c.Do(context.Background(), ts.addr, &Request{Body: make([]byte, 1<<10)}); err != nil || len(r.Body) != 1<<10 {
		t.Fatalf("request at the limit: %v", err)
	}
	if ts.handled.Load() != 1 {
		t.Fatalf("server handled %d requests, want 1", ts.handled.Load())
	}
}

func TestDialFailureIsNotSent(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(t, 1)
	if _, err := c.Do(context.Background(), addr, &Request{}); !errors.Is(err, ErrNotSent) {
		t.Fatalf("dial to a closed port: %v", err)
	}
}

func TestLostConnectionAfterSendIsNotRetryable(t *testing.T) {
	started := make(chan struct{}, 1)
	ts := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
		started <- struct{}{}
		<-ctx.Done() // the connection's end cancels it
		return &Reply{Status: 500}
	})
	c := newTestClient(t, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("w")})
		errc <- err
	}()
	<-started
	ts.Close() // the leader goes away with the request in hand
	err := <-errc
	if err == nil || errors.Is(err, ErrNotSent) || !strings.Contains(err.Error(), "may or may not") {
		t.Fatalf("request lost with its connection: %v", err)
	}
	if ts.handled.Load() != 1 {
		t.Fatalf("handled %d times", ts.handled.Load())
	}
}

// TestOnlyWrittenRequestsCountAsSent holds the writer inside a write, so that requests queue
// behind it: those never written must come back as ErrNotSent when the connection dies, the
// one being written as lost; and a request whose caller gave up while queued never goes out.
func TestOnlyWrittenRequestsCountAsSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvConn := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		var b [clientHelloLen]byte
		_, _ = io.ReadFull(nc, b[:])
		_, _ = nc.Write(appendServerHello(nil, statusOK, 1, 1<<30))
		srvConn <- nc // and read nothing more: the client's writes back up
	}()
	c := newTestClient(t, 1)
	addr := ln.Addr().String()

	// A first request large enough to fill the socket buffers, so the writer blocks in it.
	big := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), addr, &Request{Body: make([]byte, 32<<20)})
		big <- err
	}()
	nc := <-srvConn
	var cn *conn
	waitFor(t, "the big request to be handed to the writer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.slots {
			s.mu.Lock()
			if s.conn != nil {
				cn = s.conn
			}
			s.mu.Unlock()
		}
		if cn == nil {
			return false
		}
		cn.mu.Lock()
		defer cn.mu.Unlock()
		return len(cn.pending) == 1 && len(cn.queue) == 0
	})
	// Queue more on the same connection.
	queued := make(chan error, 1)
	go func() {
		_, err := cn.do(context.Background(), encodeRequest(&Request{Body: []byte("queued")}))
		queued <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error, 1)
	go func() {
		_, err := cn.do(ctx, encodeRequest(&Request{Body: []byte("abandoned")}))
		abandoned <- err
	}()
	waitFor(t, "two requests queued behind the writer", func() bool {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		return len(cn.queue) == 2
	})
	cancel()
	if err := <-abandoned; !errors.Is(err, ErrNotSent) || !errors.Is(err, context.Canceled) {
		t.Fatalf("request abandoned in the queue: %v", err)
	}
	nc.Close() // the connection dies under the writer
	if err := <-big; err == nil || errors.Is(err, ErrNotSent) {
		t.Fatalf("request being written when the connection died: %v", err)
	}
	if err := <-queued; !errors.Is(err, ErrNotSent) {
		t.Fatalf("request queued when the connection died: %v", err)
	}
}

func TestAbandonedRequestIsSkipped(t *testing.T) {
	// The writer is parked by taking nothing until released; a request abandoned meanwhile
	// must not be among the frames it writes.
	ts := newTestServer(t, 1, echo)
	c := newTestClient(t, 1)
	if _, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("warm up")}); err != nil {
		t.Fatal(err)
	}
	s, _ := c.slot(ts.addr)
	cn, err := s.get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	cn.mu.Lock() // the writer cannot take while we hold this
	frame := encodeRequest(&Request{Body: []byte("never")})
	cl := &call{frame: frame, done: make(chan struct{})}
	cn.nextID++
	cl.id = cn.nextID
	putID(frame, cl.id)
	cn.pending[cl.id] = cl
	cn.queue = append(cn.queue, cl)
	delete(cn.pending, cl.id) // what do does when its ctx ends before the writer took it
	cn.mu.Unlock()
	signal(cn.wake)
	before := ts.handled.Load()
	if r, err := cn.do(context.Background(), encodeRequest(&Request{Body: []byte("after")})); err != nil || string(r.Body) != "after" {
		t.Fatalf("request after the abandoned one: %v", err)
	}
	if n := ts.handled.Load() - before; n != 1 {
		t.Fatalf("server handled %d requests, want only the one not abandoned", n)
	}
}

func TestNotLeaderPassesThrough(t *testing.T) {
	ts := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply { return &Reply{NotLeader: true} })
	c := newTestClient(t, 1)
	r, err := c.Do(context.Background(), ts.addr, &Request{})
	if err != nil || !r.NotLeader {
		t.Fatalf("not-leader answer: %v %+v", err, r)
	}
}

func TestFollowerTimeoutBoundsTheLeader(t *testing.T) {
	left := make(chan time.Duration, 1)
	ts := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
		dl, _ := ctx.Deadline()
		left <- time.Until(dl)
		return &Reply{Status: 200}
	})
	c := newTestClient(t, 1)
	if _, err := c.Do(context.Background(), ts.addr, &Request{Timeout: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got := <-left; got <= 0 || got > 300*time.Millisecond {
		t.Fatalf("handler had %v left, want at most the follower's 300ms", got)
	}
}

func TestConnectionsFollowTheLeader(t *testing.T) {
	a := newTestServer(t, 1, echo)
	b := newTestServer(t, 1, echo)
	c := newTestClient(t, 1)
	for i := 0; i < 10; i++ {
		if _, err := c.Do(context.Background(), a.addr, &Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.conns() == 0 {
		t.Fatal("no connection to the first leader")
	}
	if _, err := c.Do(context.Background(), b.addr, &Request{}); err != nil {
		t.Fatal(err)
	}
	// Idle connections to the previous leader close at once.
	waitFor(t, "the connections to the previous leader to close", func() bool { return a.conns() == 0 })
	if b.conns() == 0 {
		t.Fatal("no connection to the new leader")
	}
}

func TestRetiredConnectionFinishesItsRequests(t *testing.T) {
	release := make(chan struct{})
	a := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
		<-release
		return &Reply{Status: 200, Body: req.Body}
	})
	b := newTestServer(t, 1, echo)
	c := NewClient(ClientConfig{ClusterID: 1, Conns: 1, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}})
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		r, err := c.Do(context.Background(), a.addr, &Request{Body: []byte("slow")})
		if err == nil && string(r.Body) != "slow" {
			err = fmt.Errorf("got %q", r.Body)
		}
		res <- err
	}()
	waitFor(t, "the slow request to reach the first leader", func() bool { return a.handled.Load() == 1 })
	if _, err := c.Do(context.Background(), b.addr, &Request{}); err != nil {
		t.Fatal(err)
	}
	if a.conns() == 0 {
		t.Fatal("retired connection closed with a request in flight")
	}
	close(release)
	if err := <-res; err != nil {
		t.Fatalf("request in flight on a retired connection: %v", err)
	}
	waitFor(t, "the retired connection to close once drained", func() bool { return a.conns() == 0 })
}

func TestCloseFailsRequestsInFlight(t *testing.T) {
	started := make(chan struct{})
	ts := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
		close(started)
		<-ctx.Done()
		return &Reply{}
	})
	c := newTestClient(t, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), ts.addr, &Request{})
		errc <- err
	}()
	<-started
	c.Close()
	if err := <-errc; err == nil || errors.Is(err, ErrNotSent) {
		t.Fatalf("request in flight at Close: %v", err)
	}
	if _, err := c.Do(context.Background(), ts.addr, &Request{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: %v", err)
	}
}

func TestReadIndexFramesRoundTrip(t *testing.T) {
	f := encodeRequest(&Request{Flags: flagReadIndex, Timeout: time.Second})
	putID(f, 5)
	if len(f) != frameHeaderLen+requestFixedLen {
		t.Fatalf("read-index request of %d bytes, want %d", len(f), frameHeaderLen+requestFixedLen)
	}
	if id, r, err := decodeRequest(f[frameHeaderLen:]); err != nil || id != 5 || r.Flags != flagReadIndex || r.Timeout != time.Second || len(r.Body) != 0 {
		t.Fatalf("read-index request round trip: %v %d %+v", err, id, r)
	}

	for _, c := range []struct {
		name     string
		idx      uint64
		err      error
		kind     byte
		notLead  bool
		wantBody string
	}{
		{"index", 1<<63 + 12345, nil, kindIndex, false, string(binary.BigEndian.AppendUint64(nil, 1<<63+12345))},
		{"zero index", 0, nil, kindIndex, false, string(make([]byte, 8))},
		{"not leader", 7, fmt.Errorf("wrapped: %w", ErrNotLeader), kindNotLeader, true, ""},
		{"failure", 7, errors.New("no quorum"), kindIndexError, false, "no quorum"},
	} {
		f := encodeIndexReply(99, c.idx, c.err)
		if got := binary.BigEndian.Uint32(f); int(got) != len(f)-frameHeaderLen {
			t.Fatalf("%s: length prefix %d for a frame of %d", c.name, got, len(f))
		}
		id, r, err := decodeReply(f[frameHeaderLen:])
		if err != nil || id != 99 || r.kind != c.kind || r.NotLeader != c.notLead || string(r.Body) != c.wantBody || r.Status != 0 || r.Fields != nil {
			t.Fatalf("%s: round trip: %v %d %+v", c.name, err, id, r)
		}
	}

	good := encodeIndexReply(1, 42, nil)[frameHeaderLen:]
	bad := map[string][]byte{
		"index cut short":   good[:len(good)-1],
		"index with a tail": append(append([]byte{}, good...), 0),
		"index with fields": append(append(append([]byte{}, good[:11]...), 1), good[12:]...),
	}
	for name, b := range bad {
		if _, _, err := decodeReply(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decoded (%v)", name, err)
		}
	}
}

func TestReadIndexOverTheRelay(t *testing.T) {
	var asked atomic.Uint64
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) { return 1000 + asked.Add(1), nil })
	c := newTestClient(t, 1)
	// Read-index requests and writes share the connections; each goes to its own handler.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 100; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if idx, err := c.ReadIndex(context.Background(), ts.addr); err != nil || idx <= 1000 || idx > 1100 {
				errs <- fmt.Errorf("read index: %d %v", idx, err)
			}
		}()
		go func() {
			defer wg.Done()
			body := fmt.Sprint("write ", i)
			if r, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte(body)}); err != nil || string(r.Body) != body {
				errs <- fmt.Errorf("write among read-index requests: %v %+v", err, r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, h := asked.Load(), ts.handled.Load(); n != 100 || h != 100 {
		t.Fatalf("%d read-index requests and %d writes handled, want 100 each", n, h)
	}
	if n := ts.accepts.Load(); n > 2 {
		t.Fatalf("%d connections, want at most 2", n)
	}
}

func TestReadIndexNotLeaderAndFailure(t *testing.T) {
	var fail atomic.Pointer[error]
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) { return 9, *fail.Load() })
	c := newTestClient(t, 1)
	notLeader := fmt.Errorf("%w: raft says so", ErrNotLeader)
	fail.Store(&notLeader)
	if _, err := c.ReadIndex(context.Background(), ts.addr); !errors.Is(err, ErrNotLeader) || errors.Is(err, ErrUnsupported) {
		t.Fatalf("not leader: %v", err)
	}
	noQuorum := errors.New("no quorum in time")
	fail.Store(&noQuorum)
	_, err := c.ReadIndex(context.Background(), ts.addr)
	if err == nil || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "no quorum in time") {
		t.Fatalf("leader's failure: %v", err)
	}
	if ts.handled.Load() != 0 {
		t.Fatal("a read-index request reached the write handler")
	}
}

func TestReadIndexFollowerTimeoutBoundsTheLeader(t *testing.T) {
	left := make(chan time.Duration, 1)
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) {
		dl, _ := ctx.Deadline()
		left <- time.Until(dl)
		return 1, nil
	})
	c := newTestClient(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.ReadIndex(ctx, ts.addr); err != nil {
		t.Fatal(err)
	}
	if got := <-left; got <= 0 || got > 300*time.Millisecond {
		t.Fatalf("leader had %v left, want at most the follower's 300ms", got)
	}
}

// A leader without read indexes over the relay (nil ReadIndex here; a first-build leader hands
// the request to its write handler, which refuses an empty command): the follower learns it
// must ask over HTTP, on a connection that stays usable for writes.
func TestReadIndexFromALeaderWithoutIt(t *testing.T) {
	for name, ts := range map[string]*testServer{
		"nil ReadIndex": newTestServer(t, 1, echo),
		"write handler answers": newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
			return &Reply{Status: 400, Body: []byte("malformed command")}
		}),
	} {
		c := newTestClient(t, 1)
		if _, err := c.ReadIndex(context.Background(), ts.addr); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotSent) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	ts := newTestServer(t, 1, echo)
	c := NewClient(ClientConfig{ClusterID: 1, Conns: 1, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}})
	defer c.Close()
	_, _ = c.ReadIndex(context.Background(), ts.addr)
	if r, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("w")}); err != nil || string(r.Body) != "w" {
		t.Fatalf("write after an unsupported read-index request: %v %+v", err, r)
	}
	if n := ts.accepts.Load(); n != 1 {
		t.Fatalf("%d connections, want the one kept", n)
	}
}

func TestReadIndexFromAnHTTPServerIsUnsupported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := newTestClient(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.ReadIndex(ctx, ln.Addr().String()); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("read index from an HTTP server: %v", err)
	}
}

func TestReadIndexFromAnotherClusterIsRefused(t *testing.T) {
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) { return 1, nil })
	c := newTestClient(t, 2)
	if _, err := c.ReadIndex(context.Background(), ts.addr); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("read index from another cluster: %v", err)
	}
}

// The relay's bit of the flags is not the caller's to set: a write carrying it would be taken
// for a read-index request.
func TestWriteWithTheRelaysFlagIsRefused(t *testing.T) {
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) { return 1, nil })
	c := newTestClient(t, 1)
	if _, err := c.Do(context.Background(), ts.addr, &Request{Flags: flagReadIndex | 1, Body: []byte("w")}); err == nil {
		t.Fatal("a write with flag bit 7 was sent")
	}
	if ts.accepts.Load() != 0 || ts.handled.Load() != 0 {
		t.Fatal("a refused write reached the server")
	}
}

// A read-index request lost with its connection fails at once (the caller may simply ask again:
// it changes nothing), and the next one gets through on a fresh connection.
func TestReadIndexAfterALostConnection(t *testing.T) {
	var calls atomic.Int64
	started := make(chan struct{}, 1)
	ts := newIndexServer(t, 1, echo, func(ctx context.Context) (uint64, error) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return 77, nil
	})
	c := NewClient(ClientConfig{ClusterID: 1, Conns: 1, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}})
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadIndex(context.Background(), ts.addr)
		errc <- err
	}()
	<-started
	ts.mu.Lock()
	for sc := range ts.Server.conns {
		_ = sc.nc.Close() // the connection drops under the request; the server lives on
	}
	ts.mu.Unlock()
	if err := <-errc; err == nil {
		t.Fatal("a read-index request lost with its connection succeeded")
	}
	if idx, err := c.ReadIndex(context.Background(), ts.addr); err != nil || idx != 77 {
		t.Fatalf("read index asked again: %d %v", idx, err)
	}
}
