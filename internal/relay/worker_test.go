package relay

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goroutineID reads the running goroutine's number from its stack header ("goroutine N [...").
func goroutineID() uint64 {
	var b [64]byte
	s := b[:runtime.Stack(b[:], false)]
	s = bytes.TrimPrefix(s, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(s[:bytes.IndexByte(s, ' ')]), 10, 64)
	return id
}

func TestSequentialRequestsReuseAWorker(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]bool{}
	ts := newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
		mu.Lock()
		seen[goroutineID()] = true
		mu.Unlock()
		return echo(ctx, req)
	})
	c := newTestClient(t, 1)
	const n = 100
	for i := 0; i < n; i++ {
		if _, err := c.Do(context.Background(), ts.addr, &Request{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// A worker is back waiting long before the next request crosses the connection; a new one
	// is started only when a request arrives in the moment between its reply and its wait.
	if len(seen) > n/2 {
		t.Fatalf("%d sequential requests ran on %d goroutines, want them to share a few", n, len(seen))
	}
}

func TestIdleWorkersAreBoundedAndEndWithTheServer(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	// Built by hand rather than by newTestServer, whose cleanup would call Close again: when
	// Close hangs, the test must fail rather than hang the package until its timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := NewServer(ServerConfig{ClusterID: 1, Timeout: 5 * time.Second,
		Handle: func(ctx context.Context, req *Request) *Reply {
			entered.Done()
			<-release
			return echo(ctx, req)
		}})
	go func() { _ = srv.Serve(ln) }()
	c := newTestClient(t, 1)
	base := runtime.NumGoroutine()
	const burst = 3 * maxIdleWorkers
	entered.Add(burst)
	var done sync.WaitGroup
	for i := 0; i < burst; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			if _, err := c.Do(context.Background(), ln.Addr().String(), &Request{}); err != nil {
				t.Error(err)
			}
		}()
	}
	entered.Wait() // every request holds a worker of its own
	close(release)
	done.Wait()
	srv.mu.Lock()
	conns := len(srv.conns)
	srv.mu.Unlock()
	limit := base + conns*maxIdleWorkers + 16
	waitFor(t, "the burst's extra workers to end", func() bool { return runtime.NumGoroutine() <= limit })

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waits for idle workers after 10s")
	}
	waitFor(t, "idle workers to end with the server", func() bool { return runtime.NumGoroutine() <= base+8 })
}
