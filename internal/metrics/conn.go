package metrics

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownPeer labels traffic on a connection whose other end could not be told apart from
// other members (several members behind one IP address accepting no identity on connect).
const unknownPeer = "unknown"

// PeerAddrs returns the other members' peer addresses (host:port) by member id (hex).
type PeerAddrs func() map[string]string

// peerByAddr is the member id whose peer address is addr.
func peerByAddr(peers PeerAddrs, addr string) string {
	for id, a := range peers() {
		if a == addr {
			return id
		}
	}
	return unknownPeer
}

// peerByIP is the one member whose peer address is on ip (an accepted connection's source
// port tells nothing).
func peerByIP(peers PeerAddrs, ip string) string {
	found := unknownPeer
	for id, a := range peers() {
		if h, _, err := net.SplitHostPort(a); err == nil && h == ip {
			if found != unknownPeer {
				return unknownPeer
			}
			found = id
		}
	}
	return found
}

// countingConn adds every byte read and written to the peer traffic counters.
type countingConn struct {
	net.Conn
	sent, recv prometheus.Counter
	failed     prometheus.Counter
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.recv.Add(float64(n))
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.sent.Add(float64(n))
	}
	if err != nil {
		c.failed.Inc()
	}
	return n, err
}

func (s *Set) count(c net.Conn, peer string) net.Conn {
	return &countingConn{Conn: c, sent: s.PeerSentBytes.WithLabelValues(peer),
		recv: s.PeerReceivedBytes.WithLabelValues(peer), failed: s.PeerSentFailures.WithLabelValues(peer)}
}

// Dialer wraps the dialer of every connection to another member (raft, relay, peer HTTP) so
// their traffic counts as etcd_network_peer_sent/received_bytes_total of that member.
func (s *Set) Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), peers PeerAddrs) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return s.count(c, peerByAddr(peers, addr)), nil
	}
}

// Listener wraps the peer port so that the traffic of accepted connections counts too.
func (s *Set) Listener(ln net.Listener, peers PeerAddrs) net.Listener {
	return &countingListener{Listener: ln, s: s, peers: peers}
}

type countingListener struct {
	net.Listener
	s     *Set
	peers PeerAddrs
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ip := ""
	if h, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
		ip = h
	}
	return l.s.count(c, peerByIP(l.peers, ip)), nil
}
