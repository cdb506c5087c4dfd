package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// connProxy is a real TCP listener that forwards every connection to a member and watches
// them: how many the client opened, how many are open, and, for those the client closed, how
// long they had carried no byte before it did.
type connProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	accepted int
	open     int
	live     map[net.Conn]bool
	// quietAtClose holds, for each connection the client closed, how long it had been unused.
	quietAtClose []time.Duration
}

func newConnProxy(t *testing.T) *connProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.forward(conn) }()
		}
	}()
	return p
}

func (p *connProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *connProxy) forward(conn net.Conn) {
	defer conn.Close()
	p.mu.Lock()
	p.accepted++
	p.open++
	if p.live == nil {
		p.live = map[net.Conn]bool{}
	}
	p.live[conn] = true
	target := p.target
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		p.mu.Lock()
		p.open--
		delete(p.live, conn)
		p.mu.Unlock()
		return
	}
	defer up.Close()
	var lmu sync.Mutex
	last := time.Now()
	touch := func() { lmu.Lock(); last = time.Now(); lmu.Unlock() }
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		copyTouching(conn, up, touch)
		conn.Close() // the member closed: pass it on
	}()
	// Returns when the client closes (or the connection is torn down above).
	clientEOF := copyTouching(up, conn, touch)
	lmu.Lock()
	quiet := time.Since(last)
	lmu.Unlock()
	up.Close()
	<-serverDone
	p.mu.Lock()
	p.open--
	delete(p.live, conn)
	if clientEOF {
		p.quietAtClose = append(p.quietAtClose, quiet)
	}
	p.mu.Unlock()
}

// copyTouching copies until src ends, calling touch on every chunk; it reports whether src
// ended with a clean EOF (the peer closed) rather than an error.
func copyTouching(dst io.Writer, src io.Reader, touch func()) bool {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// dropAll closes every connection, as a restarting server would.
func (p *connProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for conn := range p.live {
		conn.Close()
	}
}

func (p *connProxy) counts() (accepted, open int, quiet []time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.open, append([]time.Duration(nil), p.quietAtClose...)
}

// oneMemberBehind starts one member that advertises proxy as its alternate client URL; a
// client seeded with the member itself and using the alternate URLs opens all its
// connections to the member through the proxy, and nothing else does.
func oneMemberBehind(t *testing.T, p *connProxy) *testcluster.Cluster {
	return rackCluster(t, 1, testcluster.WithConfig(func(i int, cfg *node.Config) {
		u, err := url.Parse(cfg.AdvertiseClientURLs[0])
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.target = u.Host
		p.mu.Unlock()
		cfg.AdvertiseAlternateClientURLs = []string{p.URL()}
	}))
}

func TestMinConnectionsPerNodeAreOpenedAndKeptWarm(t *testing.T) {
	const minConns = 4
	const idle = 1500 * time.Millisecond
	p := newConnProxy(t)
	c := oneMemberBehind(t, p)
	s := fast
	s.MinConnectionsPerNode, s.IdleTimeout = minConns, idle
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithSystemSettings(s))
	waitNodes(t, cl, "n1")

	// Opened when the node is first reached, with no request from the application.
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, open, _ := p.counts(); open < minConns {
			return fmt.Errorf("%d connections open, want at least %d", open, minConns)
		}
		return nil
	})
	// Kept: the connections stay open across several idle timeouts with no request at all
	// (the tender's one probe at a time keeps a single connection busy, not four).
	start := time.Now()
	for time.Since(start) < 3*idle {
		if _, open, _ := p.counts(); open < minConns {
			t.Fatalf("%v after warming: %d connections open, want at least %d", time.Since(start).Round(time.Millisecond), open, minConns)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Idle ones beyond the minimum may close, but warm ones are not churned: far fewer
	// connections were opened than one set per refresh.
	if accepted, _, _ := p.counts(); accepted > 3*minConns {
		t.Fatalf("%d connections opened in all", accepted)
	}
}

func TestMinConnectionsPerNodeAreReopenedWhenTheServerClosesThem(t *testing.T) {
	const minConns = 3
	p := newConnProxy(t)
	c := oneMemberBehind(t, p)
	s := fast
	// With a long idle timeout only a count of the open connections notices they are gone.
	s.MinConnectionsPerNode, s.IdleTimeout = minConns, time.Hour
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithSystemSettings(s))
	waitNodes(t, cl, "n1")
	atLeast := func(n int) {
		t.Helper()
		testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			if _, open, _ := p.counts(); open < n {
				return fmt.Errorf("%d connections open, want at least %d", open, n)
			}
			return nil
		})
	}
	atLeast(minConns)
	first, _, _ := p.counts()
	p.dropAll()
	// The tender reopens them, without waiting for the next refresh an hour away.
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if accepted, _, _ := p.counts(); accepted < first+minConns {
			return fmt.Errorf("%d connections opened since the drop, want %d", accepted-first, minConns)
		}
		return nil
	})
	atLeast(minConns)
}

func TestIdleTimeoutClosesUnusedConnections(t *testing.T) {
	const idle = 300 * time.Millisecond
	p := newConnProxy(t)
	c := oneMemberBehind(t, p)
	// The tender waits a minute between probes, so only the idle timeout can close the
	// connections in this test (cairnd itself keeps idle ones for 2 minutes).
	s := client.SystemSettings{TendInterval: time.Minute, Timeout: time.Second, IdleTimeout: idle}
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithSystemSettings(s))
	waitNodes(t, cl, "n1")
	sess := cl.CreateSession(client.DefaultBehavior)
	// Three writes at once need three connections.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sess.Put(context.Background(), fmt.Sprintf("/idle/%d", i), "v"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if accepted, _, _ := p.counts(); accepted < 1 {
		t.Fatalf("only %d connections were opened", accepted)
	}
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		accepted, open, quiet := p.counts()
		if open > 0 || len(quiet) < accepted {
			return fmt.Errorf("%d of %d connections open, %d closed by the client", open, accepted, len(quiet))
		}
		return nil
	})
	_, _, quiet := p.counts()
	for _, q := range quiet {
		// The client closed each connection after it had been unused for the idle timeout,
		// not before (a little slack for timer granularity).
		if q < idle-50*time.Millisecond {
			t.Fatalf("a connection was closed after only %v unused; IdleTimeout is %v", q, idle)
		}
	}
	// A request after the close opens a connection again and works.
	if _, err := sess.Get(context.Background(), "/idle/0"); err != nil {
		t.Fatal(err)
	}
}
