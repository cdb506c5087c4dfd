package quorum

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
)

// DefaultExpiry is how long a request waits for replies before ExpireRequests drops it.
const DefaultExpiry = 10 * time.Second

// DefaultCoverage caps how many peers coverage 0 asks.
const DefaultCoverage = 6

// readSlice bounds one blocking read inside WaitForReplies and Query, so that a goroutine
// waiting for its own salt notices replies another goroutine read for it.
const readSlice = 50 * time.Millisecond

// Option configures a Client.
type Option func(*options)

type options struct {
	port   int
	logger *slog.Logger
	expiry time.Duration
}

// WithDefaultPort sets the port for peers given without one (default DefaultPort).
func WithDefaultPort(port int) Option { return func(o *options) { o.port = port } }

// WithLogger sets where the client logs dropped replies and send failures.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithExpiry sets how long requests stay outstanding (default DefaultExpiry).
func WithExpiry(d time.Duration) Option { return func(o *options) { o.expiry = d } }

// Client sends quorum queries to a set of peers and delivers their replies to a callback.
// Its methods may be called from several goroutines; the callback is never called with an
// internal lock held, so it may call back into the client.
type Client struct {
	callback func(Upcall)
	opts     options
	conn     *net.UDPConn

	mu       sync.Mutex // guards everything below
	codec    *wire.Codec
	family   int
	peers    []netip.AddrPort
	requests map[string]*pending
	queue    []outgoing

	readMu  sync.Mutex // one reader at a time; guards readBuf and rcodec
	readBuf []byte
	rcodec  *wire.Codec
}

type pending struct {
	req      Request
	expiry   time.Time
	replied  map[netip.AddrPort]bool // the peers asked; true once one has replied
	received int
	replies  []Reply
}

type outgoing struct {
	pkt []byte
	to  netip.AddrPort
}

// NewClient returns a client that signs with hmacKey, asks peers ("host" or "host:port"),
// and hands every reply and expiry to callback (which may be nil when only Query is used).
func NewClient(hmacKey []byte, peers []string, callback func(Upcall), opts ...Option) (*Client, error) {
	o := options{port: DefaultPort, expiry: DefaultExpiry}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.port <= 0 || o.port > 65535 {
		return nil, fmt.Errorf("quorum: invalid default port %d", o.port)
	}
	if o.expiry <= 0 {
		return nil, fmt.Errorf("quorum: expiry must be positive, got %v", o.expiry)
	}
	codec, err := wire.NewCodec(hmacKey)
	if err != nil {
		return nil, err
	}
	rcodec, _ := wire.NewCodec(hmacKey)
	addrs, family, err := parsePeers(peers, o.port)
	if err != nil {
		return nil, err
	}
	network := "udp4"
	if family == 6 {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, fmt.Errorf("quorum: open client socket: %w", err)
	}
	if callback == nil {
		callback = func(Upcall) {}
	}
	return &Client{
		callback: callback,
		opts:     o,
		conn:     conn,
		codec:    codec,
		family:   family,
		peers:    addrs,
		requests: make(map[string]*pending),
		readBuf:  make([]byte, wire.MaxDatagram+1),
		rcodec:   rcodec,
	}, nil
}

// Close releases the client's socket. Outstanding requests are dropped without upcalls.
func (c *Client) Close() error { return c.conn.Close() }

// UpdatePeerList replaces the peers asked by later requests. Requests already sent keep
// their peers. The new peers must be of the family the client started with.
func (c *Client) UpdatePeerList(peers []string) error {
	addrs, family, err := parsePeers(peers, c.opts.port)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if family != c.family {
		return fmt.Errorf("%w: the client speaks IPv%d, new peers are IPv%d", ErrMixedFamilies, c.family, family)
	}
	c.peers = addrs
	return nil
}

// SendRequest signs req with a fresh salt and sends it to coverage peers chosen at random:
// 0 means min(peers, DefaultCoverage), -1 means every peer, N means N peers. With async the
// packets are queued until FlushSendQueue. It returns the salt that identifies the request
// in upcalls and WaitForReplies.
func (c *Client) SendRequest(req Request, coverage int, async bool) (string, error) {
	var raw [wire.SaltSize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("quorum: salt: %w", err)
	}
	salt := hex.EncodeToString(raw[:])

	c.mu.Lock()
	targets, err := c.pickPeers(coverage)
	if err != nil {
		c.mu.Unlock()
		return "", err
	}
	pkt, err := c.codec.AppendRequest(nil, &wire.Request{
		Timestamp: time.Now().UnixNano(), Salt: raw, Type: req.Type, Query: req.Query,
	})
	if err != nil {
		c.mu.Unlock()
		return "", fmt.Errorf("quorum: encode request: %w", err)
	}
	p := &pending{req: req, expiry: time.Now().Add(c.opts.expiry), replied: make(map[netip.AddrPort]bool, len(targets))}
	out := make([]outgoing, len(targets))
	for i, t := range targets {
		p.replied[t] = false
		out[i] = outgoing{pkt: pkt, to: t}
	}
	c.requests[salt] = p
	if async {
		c.queue = append(c.queue, out...)
		c.mu.Unlock()
		return salt, nil
	}
	c.mu.Unlock()

	if c.send(out) == 0 {
		c.forget(salt)
		return "", fmt.Errorf("quorum: request could not be sent to any of %d peers", len(out))
	}
	return salt, nil
}

func (c *Client) pickPeers(coverage int) ([]netip.AddrPort, error) {
	n := len(c.peers)
	switch {
	case coverage == 0:
		n = min(n, DefaultCoverage)
	case coverage == -1:
	case coverage > 0 && coverage <= n:
		n = coverage
	default:
		return nil, fmt.Errorf("quorum: coverage %d with %d peers", coverage, len(c.peers))
	}
	picked := make([]netip.AddrPort, 0, n)
	for _, i := range mrand.Perm(len(c.peers))[:n] {
		picked = append(picked, c.peers[i])
	}
	return picked, nil
}

// send writes each packet and returns how many went out.
func (c *Client) send(out []outgoing) int {
	sent := 0
	for _, o := range out {
		if _, err := c.conn.WriteToUDPAddrPort(o.pkt, o.to); err != nil {
			c.opts.logger.Warn("quorum: send failed", "peer", o.to.String(), "err", err)
			continue
		}
		sent++
	}
	return sent
}

// FlushSendQueue sends every request queued by an async SendRequest.
func (c *Client) FlushSendQueue() {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	c.send(q)
}

// ReceiveReply waits up to timeout for one packet and, if it is a valid reply from a peer
// asked by an outstanding request that has not replied yet, hands it to the callback. It
// reports whether a reply was delivered; anything else (timeout, forged, duplicate or late
// packets) returns false.
func (c *Client) ReceiveReply(timeout time.Duration) bool {
	u, ok := c.receive(timeout)
	if ok {
		c.callback(u)
	}
	return ok
}

func (c *Client) receive(timeout time.Duration) (Upcall, bool) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return Upcall{}, false
	}
	n, from, err := c.conn.ReadFromUDPAddrPort(c.readBuf)
	if err != nil {
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, net.ErrClosed) {
			c.opts.logger.Debug("quorum: read failed", "err", err)
		}
		return Upcall{}, false
	}
	var wr wire.Reply
	if err := c.rcodec.DecodeReply(c.readBuf[:n], &wr); err != nil {
		c.opts.logger.Debug("quorum: dropped reply", "from", from.String(), "err", err)
		return Upcall{}, false
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	salt := hex.EncodeToString(wr.Salt[:])
	reply := Reply{Status: wr.Status, Answer: string(wr.Answer), Index: wr.Index, Node: wr.Node, Salt: salt}

	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.requests[salt]
	if p == nil {
		c.opts.logger.Debug("quorum: reply for unknown or expired request", "from", from.String(), "salt", salt)
		return Upcall{}, false
	}
	// Only peers that were asked count, and each once: a replayed reply must not inflate
	// the count towards NeededReplies.
	if done, asked := p.replied[from]; !asked || done {
		c.opts.logger.Debug("quorum: unsolicited or duplicate reply", "from", from.String(), "salt", salt)
		return Upcall{}, false
	}
	p.replied[from] = true
	p.received++
	p.replies = append(p.replies, reply)
	return Upcall{Salt: salt, Kind: UpcallReply, Request: p.req, Reply: reply, Server: from.String()}, true
}

// ExpireRequests drops every request past its expiry and tells the callback about each.
func (c *Client) ExpireRequests() {
	now := time.Now()
	var expired []Upcall
	c.mu.Lock()
	for salt, p := range c.requests {
		if !now.Before(p.expiry) {
			delete(c.requests, salt)
			expired = append(expired, Upcall{Salt: salt, Kind: UpcallExpire, Request: p.req})
		}
	}
	c.mu.Unlock()
	for _, u := range expired {
		c.callback(u)
	}
}

// WaitForReplies flushes the send queue, then waits until NeededReplies of the peers asked
// for salt have replied or timeout passes, delivering replies (for any salt) to the
// callback meanwhile. For an unknown salt it returns at once with timedOut true and zero
// counts, as the seed does.
func (c *Client) WaitForReplies(salt string, timeout time.Duration) (timedOut bool, sent, received int) {
	c.FlushSendQueue()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		p := c.requests[salt]
		if p != nil {
			sent, received = len(p.replied), p.received
		}
		c.mu.Unlock()
		if p == nil {
			return true, sent, received
		}
		if received >= NeededReplies(sent) {
			return false, sent, received
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true, sent, received
		}
		c.ReceiveReply(min(left, readSlice))
	}
}

// forget drops a request without an upcall.
func (c *Client) forget(salt string) {
	c.mu.Lock()
	delete(c.requests, salt)
	c.mu.Unlock()
}
