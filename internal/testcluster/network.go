package testcluster

import (
	"context"
	"errors"
	"net"
	"sync"
)

// errPartitioned is what a dial across a partition fails with. It is a dial error, so callers
// treat it as "nothing was sent", exactly like a refused connection.
var errPartitioned = errors.New("testcluster: network partitioned")

// network is the switch between the nodes: every connection from one member to another is
// dialed through it, so it can refuse new ones across a cut and sever the existing ones.
type network struct {
	mu     sync.Mutex
	owner  map[string]int // peer host:port -> node index
	cut    map[[2]int]bool
	conns  map[*trackedConn]struct{}
	dialer net.Dialer
}

func newNetwork() *network {
	return &network{owner: map[string]int{}, cut: map[[2]int]bool{}, conns: map[*trackedConn]struct{}{}}
}

func (nw *network) register(addr string, idx int) {
	nw.mu.Lock()
	nw.owner[addr] = idx
	nw.mu.Unlock()
}

func (nw *network) dialFrom(from int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, netw, addr string) (net.Conn, error) {
		nw.mu.Lock()
		to, known := nw.owner[addr]
		blocked := known && nw.cut[[2]int{from, to}]
		nw.mu.Unlock()
		if blocked {
			return nil, &net.OpError{Op: "dial", Net: netw, Err: errPartitioned}
		}
		c, err := nw.dialer.DialContext(ctx, netw, addr)
		if err != nil {
			return nil, err
		}
		if !known {
			return c, nil
		}
		tc := &trackedConn{Conn: c, nw: nw, from: from, to: to}
		nw.mu.Lock()
		// The cut may have come while dialing.
		if nw.cut[[2]int{from, to}] {
			nw.mu.Unlock()
			c.Close()
			return nil, &net.OpError{Op: "dial", Net: netw, Err: errPartitioned}
		}
		nw.conns[tc] = struct{}{}
		nw.mu.Unlock()
		return tc, nil
	}
}

// partition cuts every pair of nodes that are in different groups; nodes in no group are cut
// from everyone.
func (nw *network) partition(n int, groups [][]int) {
	group := make([]int, n)
	for i := range group {
		group[i] = -1 - i
	}
	for g, members := range groups {
		for _, i := range members {
			group[i] = g
		}
	}
	nw.mu.Lock()
	var sever []*trackedConn
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			if a != b && group[a] != group[b] {
				nw.cut[[2]int{a, b}] = true
			}
		}
	}
	for c := range nw.conns {
		if nw.cut[[2]int{c.from, c.to}] {
			sever = append(sever, c)
		}
	}
	nw.mu.Unlock()
	for _, c := range sever {
		c.Close()
	}
}

func (nw *network) heal() {
	nw.mu.Lock()
	nw.cut = map[[2]int]bool{}
	nw.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	nw       *network
	from, to int
	once     sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.nw.mu.Lock()
		delete(c.nw.conns, c)
		c.nw.mu.Unlock()
	})
	return c.Conn.Close()
}
