package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// connCounter counts the open connections to each dialled address, so that the tender knows
// when a node has fewer than MinConnectionsPerNode (the server closed some, or the node was
// restarted).
type connCounter struct {
	mu   sync.Mutex
	open map[string]int
}

func (cc *connCounter) add(addr string, d int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.open == nil {
		cc.open = map[string]int{}
	}
	cc.open[addr] += d
	if cc.open[addr] <= 0 {
		delete(cc.open, addr)
	}
}

func (cc *connCounter) count(addr string) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.open[addr]
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// counting wraps a dialer so that every connection it opens is counted until it is closed.
func (cc *connCounter) counting(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc.add(addr, 1)
		return &countedConn{Conn: conn, cc: cc, addr: addr}, nil
	}
}

type countedConn struct {
	net.Conn
	cc   *connCounter
	addr string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.cc.add(c.addr, -1) })
	return c.Conn.Close()
}

// dialAddr is the host:port the transport dials for a base URL, the key of connCounter.
func dialAddr(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// maybeWarmLocked starts warm when the node has fewer than MinConnectionsPerNode connections, or
// when the warm ones have been idle for half an IdleTimeout: refreshed in time, they are never
// closed as idle. Called by the tender with n.mu held, after it reached the node.
func (c *Cluster) maybeWarmLocked(n *node) {
	want := c.settings.MinConnectionsPerNode
	if want <= 0 || n.warming || n.addr == "" {
		return
	}
	if c.conns.count(n.dial) >= want && time.Since(n.lastWarm) < c.settings.IdleTimeout/2 {
		return
	}
	n.warming = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.warm(n)
		n.mu.Lock()
		n.warming, n.lastWarm = false, time.Now()
		n.mu.Unlock()
	}()
}

// warm holds MinConnectionsPerNode requests to n in flight at once, so that each takes a
// connection of its own (an idle one, else a new one): afterwards that many connections
// exist, each freshly used.
func (c *Cluster) warm(n *node) {
	k := c.settings.MinConnectionsPerNode
	ctx, cancel := context.WithTimeout(c.ctx, c.settings.Timeout)
	defer cancel()
	var answered, done sync.WaitGroup
	answered.Add(k)
	done.Add(k)
	for range k {
		go func() {
			defer done.Done()
			resp, err := c.warmRequest(ctx, n)
			answered.Done()
			if err != nil {
				return
			}
			// Until its body is read the connection stays taken, so the other requests
			// cannot reuse it.
			answered.Wait()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}()
	}
	done.Wait()
}

func (c *Cluster) warmRequest(ctx context.Context, n *node) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.addr+"/version", nil)
	if err != nil {
		return nil, err
	}
	c.auth.authorize(req)
	return c.httpClient(n.tlsName).Do(req)
}
