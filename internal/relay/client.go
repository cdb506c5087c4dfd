package relay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
)

// ClientConfig configures a follower's side.
type ClientConfig struct {
	// ClusterID is sent in the handshake; a leader of another cluster refuses the connection.
	ClusterID uint64
	// Dial opens a relay connection to a member's peer address (raftnode.Node.DialRelay).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Conns is how many connections to the leader requests are spread over (default 2).
	Conns int
	// MaxReply bounds one reply frame (default 64 MiB); a larger one drops its connection.
	MaxReply int
	// DialTimeout bounds a dial plus handshake (default 5s), within the request's own deadline.
	DialTimeout time.Duration
	Logger      *slog.Logger
	// Metrics counts the frames (nil: an unregistered set).
	Metrics *metrics.Set
}

// Client relays requests to whichever member the caller names as leader, over a few persistent
// connections to it. When the caller names another member, the connections to the previous
// one take no new requests and close once their answers are in.
type Client struct {
	cfg ClientConfig

	mu     sync.Mutex
	addr   string
	slots  []*slot
	closed bool
	next   atomic.Uint32
}

// NewClient returns a client; it dials nothing until the first request.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Conns <= 0 {
		cfg.Conns = 2
	}
	if cfg.MaxReply <= 0 {
		cfg.MaxReply = 64 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Client{cfg: cfg}
}

// Do sends req to the member at addr and waits for its answer or for ctx to end.
//
// An error wrapping ErrNotSent means the request never left this node. Any other error after
// the request may have been written (a lost connection, ctx ending) leaves its outcome unknown:
// the leader may or may not have applied it, and it must not be sent again.
func (c *Client) Do(ctx context.Context, addr string, req *Request) (*Reply, error) {
	if req.Flags&(flagReadIndex|flagCommitWait) != 0 {
		return nil, fmt.Errorf("relay: request flags %#x: bits 6 and 7 are the relay's own", req.Flags)
	}
	conn, err := c.conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	if max := int(conn.maxRequest); requestPayloadLen(len(req.Body)) > max {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, requestPayloadLen(len(req.Body)), max)
	}
	return conn.do(ctx, encodeRequest(req))
}

// ReadIndex asks the member at addr for a read index: one that covers every write the leader
// acknowledged before it received the request, confirmed with a quorum.
//
// Besides Do's errors (ErrNotSent, ErrClusterMismatch, ErrUnsupported, a connection lost after
// sending), it returns ErrNotLeader when the member said it does not lead, ErrUnsupported when
// it answered as a leader of the first relay build, and the leader's own failure as an error.
// Asking again after any of them is safe: a read-index request changes nothing.
func (c *Client) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	conn, err := c.conn(ctx, addr)
	if err != nil {
		return 0, err
	}
	req := &Request{Flags: flagReadIndex}
	if dl, ok := ctx.Deadline(); ok {
		req.Timeout = time.Until(dl)
	}
	r, err := conn.do(ctx, encodeRequest(req))
	if err != nil {
		return 0, err
	}
	switch r.kind {
	case kindIndex:
		return binary.BigEndian.Uint64(r.Body), nil
	case kindNotLeader:
		return 0, fmt.Errorf("%w: %s", ErrNotLeader, addr)
	case kindIndexError:
		return 0, fmt.Errorf("relay: read index from %s: %s", addr, r.Body)
	}
	return 0, fmt.Errorf("%w: %s answers a read-index request as a write (status %d)", ErrUnsupported, addr, r.Status)
}

func (c *Client) conn(ctx context.Context, addr string) (*conn, error) {
	s, err := c.slot(addr)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, c)
}

// Close drops every connection; requests in flight fail as for a lost connection.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	slots := c.slots
	c.slots = nil
	c.mu.Unlock()
	for _, s := range slots {
		s.close(ErrClosed)
	}
}

// slot picks one of the connections to addr, retiring those to any previous address.
func (c *Client) slot(addr string) (*slot, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrNotSent, ErrClosed)
	}
	var retired []*slot
	if addr != c.addr || c.slots == nil {
		retired = c.slots
		c.addr = addr
		c.slots = make([]*slot, c.cfg.Conns)
		for i := range c.slots {
			c.slots[i] = &slot{addr: addr}
		}
	}
	s := c.slots[int(c.next.Add(1))%len(c.slots)]
	c.mu.Unlock()
	for _, r := range retired {
		r.retire()
	}
	return s, nil
}

// slot holds one connection to the leader, redialed after it dies.
type slot struct {
	addr string

	mu      sync.Mutex
	conn    *conn
	dialing chan struct{} // closed when the dial under way ends
	retired bool
}

func (s *slot) get(ctx context.Context, c *Client) (*conn, error) {
	s.mu.Lock()
	for {
		if s.retired {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: the leader changed", ErrNotSent)
		}
		if s.conn != nil && s.conn.alive() {
			cn := s.conn
			s.mu.Unlock()
			return cn, nil
		}
		if s.dialing == nil {
			break
		}
		wait := s.dialing
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNotSent, ctx.Err())
		}
		s.mu.Lock()
	}
	done := make(chan struct{})
	s.dialing = done
	s.mu.Unlock()

	cn, err := c.dial(ctx, s.addr)

	s.mu.Lock()
	s.dialing = nil
	close(done)
	if err == nil {
		if s.retired {
			s.mu.Unlock()
			cn.fail(ErrClosed)
			return nil, fmt.Errorf("%w: the leader changed", ErrNotSent)
		}
		s.conn = cn
	}
	s.mu.Unlock()
	return cn, err
}

// retire stops the slot taking requests; its connection closes once its answers are in.
func (s *slot) retire() {
	s.mu.Lock()
	s.retired = true
	cn := s.conn
	s.mu.Unlock()
	if cn != nil {
		cn.retire()
	}
}

func (s *slot) close(err error) {
	s.mu.Lock()
	s.retired = true
	cn := s.conn
	s.mu.Unlock()
	if cn != nil {
		cn.fail(err)
	}
}

// dial connects and shakes hands. Every failure here is before any request, hence ErrNotSent
// unless the other side is of another cluster or protocol, which retrying cannot fix.
func (c *Client) dial(ctx context.Context, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(dctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotSent, addr, err)
	}
	if dl, ok := dctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	h, err := handshake(nc, c.cfg.ClusterID)
	if !stop() {
		err = errors.Join(err, dctx.Err())
	}
	if err != nil {
		_ = nc.Close()
		if !errors.Is(err, ErrClusterMismatch) && !errors.Is(err, ErrUnsupported) {
			err = fmt.Errorf("%w: handshake with %s: %w", ErrNotSent, addr, err)
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	cn := &conn{
		nc: nc, br: bufio.NewReaderSize(nc, 32<<10), bw: bufio.NewWriterSize(nc, 32<<10),
		maxRequest: h.maxRequest, maxReply: c.cfg.MaxReply, log: c.cfg.Logger, m: c.cfg.Metrics,
		pending: map[uint64]*call{}, wake: make(chan struct{}, 1),
	}
	cn.lastRead.Store(time.Now().UnixNano())
	go cn.readLoop()
	go cn.writeLoop()
	return cn, nil
}

func handshake(nc net.Conn, clusterID uint64) (serverHello, error) {
	if _, err := nc.Write(appendClientHello(nil, clusterID)); err != nil {
		return serverHello{}, err
	}
	var b [serverHelloLen]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// Something answered, briefly, and hung up: not a relay endpoint.
			return serverHello{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return serverHello{}, err
	}
	h, err := parseServerHello(b[:])
	if err != nil {
		return h, err
	}
	switch {
	case h.status == statusClusterMismatch:
		return h, fmt.Errorf("%w: it belongs to cluster %x, this member to %x", ErrClusterMismatch, h.clusterID, clusterID)
	case h.status == statusVersion || h.version != version:
		return h, fmt.Errorf("%w: it speaks version %d, this member %d", ErrUnsupported, h.version, version)
	case h.status != statusOK:
		return h, fmt.Errorf("%w: handshake status %d", ErrUnsupported, h.status)
	case h.clusterID != clusterID:
		return h, fmt.Errorf("%w: it belongs to cluster %x, this member to %x", ErrClusterMismatch, h.clusterID, clusterID)
	}
	return h, nil
}

// silentAfter is how long a connection may stay silent, with a request waiting on it that
// ends by its deadline, before it is taken for dead.
const silentAfter = time.Second

// conn is one connection to the leader with the requests in flight on it.
type conn struct {
	nc         net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	maxRequest uint32
	maxReply   int
	log        *slog.Logger
	m          *metrics.Set
	// lastRead is when a frame last arrived (unix nanos): a request that times out with
	// nothing read since it was sent suggests a connection that went silent.
	lastRead atomic.Int64

	mu      sync.Mutex
	pending map[uint64]*call // requests whose answer is awaited; removed by whoever settles them
	queue   []*call          // requests not yet handed to the writer
	nextID  uint64
	err     error // set once the connection is dead
	retired bool
	wake    chan struct{}
}

type call struct {
	id     uint64
	frame  []byte
	sent   bool  // handed to the writer: from then on the leader may have it
	sentAt int64 // unix nanos
	done   chan struct{}
	reply  *Reply
	err    error
}

func (cn *conn) alive() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err == nil && !cn.retired
}

func (cn *conn) do(ctx context.Context, frame []byte) (*Reply, error) {
	cl := &call{frame: frame, done: make(chan struct{})}
	cn.mu.Lock()
	if cn.err != nil || cn.retired {
		err := cn.err
		if err == nil {
			err = errors.New("the leader changed")
		}
		cn.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	cn.nextID++
	cl.id = cn.nextID
	putID(frame, cl.id)
	cn.pending[cl.id] = cl
	cn.queue = append(cn.queue, cl)
	cn.mu.Unlock()
	signal(cn.wake)

	select {
	case <-cl.done:
		return cl.reply, cl.err
	case <-ctx.Done():
	}
	cn.mu.Lock()
	if cn.pending[cl.id] != cl {
		// Settled meanwhile: the answer or the connection's failure is ours after all.
		cn.mu.Unlock()
		<-cl.done
		return cl.reply, cl.err
	}
	delete(cn.pending, cl.id)
	sent, sentAt := cl.sent, cl.sentAt
	drained := cn.retired && len(cn.pending) == 0
	cn.mu.Unlock()
	waited := time.Duration(time.Now().UnixNano() - sentAt)
	switch {
	case drained:
		cn.fail(ErrClosed)
	case sent && waited >= silentAfter && errors.Is(ctx.Err(), context.DeadlineExceeded) && cn.lastRead.Load() < sentAt:
		// Nothing at all came back while this request waited out its deadline: the leader or
		// the path to it is gone without a word (no reset reached us). Drop the connection so
		// that the next request dials afresh instead of queueing behind a dead one.
		cn.fail(fmt.Errorf("no answer on the relay connection for %v", waited.Round(time.Millisecond)))
	}
	if !sent {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, ctx.Err())
	}
	return nil, ctx.Err()
}

// take hands the queued requests to the writer, marking them sent. A request abandoned by its
// caller before this point is skipped, so it provably never leaves.
func (cn *conn) take(buf [][]byte) ([][]byte, bool) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return buf, false
	}
	now := time.Now().UnixNano()
	for i, cl := range cn.queue {
		cn.queue[i] = nil
		if cn.pending[cl.id] != cl {
			continue
		}
		cl.sent, cl.sentAt = true, now
		buf = append(buf, cl.frame)
		cl.frame = nil
	}
	cn.queue = cn.queue[:0]
	return buf, true
}

func (cn *conn) writeLoop() {
	err := writeLoop(cn.bw, cn.wake, cn.take, cn.m)
	cn.fail(err)
}

func (cn *conn) readLoop() {
	recv := cn.m.RelayFrames.WithLabelValues("received")
	for {
		p, err := readFrame(cn.br, cn.maxReply)
		if err != nil {
			cn.fail(err)
			return
		}
		recv.Inc()
		cn.lastRead.Store(time.Now().UnixNano())
		id, r, err := decodeReply(p)
		if err != nil {
			cn.fail(err)
			return
		}
		cn.mu.Lock()
		cl := cn.pending[id]
		if cl != nil {
			delete(cn.pending, id)
		}
		drained := cn.retired && len(cn.pending) == 0
		cn.mu.Unlock()
		if cl != nil {
			cl.reply = r
			close(cl.done)
		}
		if drained {
			cn.fail(ErrClosed)
			return
		}
	}
}

// retire takes no new requests; the connection closes once the last answer is in.
func (cn *conn) retire() {
	cn.mu.Lock()
	cn.retired = true
	drained := len(cn.pending) == 0
	cn.mu.Unlock()
	if drained {
		cn.fail(ErrClosed)
	}
}

// fail closes the connection and settles every request on it: those never handed to the
// writer with ErrNotSent, the others as lost, outcome unknown.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	if cause == nil {
		cause = io.EOF
	}
	cn.err = cause
	calls := cn.pending
	cn.pending = nil
	cn.queue = nil
	cn.mu.Unlock()
	_ = cn.nc.Close()
	signal(cn.wake)
	for _, cl := range calls {
		if cl.sent {
			cl.err = fmt.Errorf("relay: connection to the leader lost after the request was sent; it may or may not have been applied: %w", cause)
		} else {
			cl.err = fmt.Errorf("%w: connection to the leader lost: %w", ErrNotSent, cause)
		}
		close(cl.done)
	}
	if len(calls) > 0 && !errors.Is(cause, ErrClosed) {
		cn.log.Warn("relay connection to the leader lost", "addr", cn.nc.RemoteAddr().String(), "in_flight", len(calls), "err", cause)
	}
}
