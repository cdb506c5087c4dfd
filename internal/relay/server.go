package relay

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
)

// ServerConfig configures the leader's side.
type ServerConfig struct {
	// ClusterID must match the follower's; other clusters' connections are closed.
	ClusterID uint64
	// MaxBody bounds a request's body (default 8 MiB). The handshake tells followers, which
	// refuse a larger request themselves; a larger frame that arrives all the same drops its
	// connection.
	MaxBody int
	// Timeout bounds one request's handling (the follower's own timeout may shorten it).
	Timeout time.Duration
	// Handle answers one request. It runs on one of the connection's workers (worker.go), never
	// on its reader, and must honour ctx.
	Handle func(ctx context.Context, req *Request) *Reply
	// ReadIndex answers a read-index request, as Handle does a write; an error wrapping
	// ErrNotLeader says this member does not lead. Nil: such requests are refused as they are
	// by a build without them, and the follower asks over HTTP.
	ReadIndex func(ctx context.Context) (uint64, error)
	// WaitCommit answers a commit-notice request (commit.go): it returns, once this leader has
	// applied an index above after or ctx is about to end, its commit index and term; an error
	// wrapping ErrNotLeader says this member does not lead. Nil: such requests are refused as
	// unsupported.
	WaitCommit func(ctx context.Context, after uint64) (commit, term uint64, err error)
	// HandshakeTimeout bounds the wait for a new connection's hello (default 10s).
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
	// Metrics counts the frames (nil: an unregistered set).
	Metrics *metrics.Set
}

// Server answers relayed requests on the connections a listener hands it.
type Server struct {
	cfg ServerConfig

	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a server; Serve starts it.
func NewServer(cfg ServerConfig) *Server {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Server{cfg: cfg, conns: map[*serverConn]struct{}{}}
}

// Serve accepts connections until ln fails (net.ErrClosed once it is closed) or Close.
func (s *Server) Serve(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		sc := &serverConn{s: s, nc: nc, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), jobs: make(chan job)}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			cancel()
			_ = nc.Close()
			return ErrClosed
		}
		s.conns[sc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go sc.serve()
	}
}

// Close drops every connection, cancels the requests in flight and waits for their handlers.
// The listener is the caller's to close.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		sc.close()
	}
	s.wg.Wait()
}

type serverConn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context // ends with the connection: its requests' answers have nowhere to go
	cancel context.CancelFunc

	mu      sync.Mutex
	replies [][]byte
	closed  bool
	wake    chan struct{}
	wg      sync.WaitGroup // workers and the writer

	jobs chan job     // unbuffered: a send succeeds only when a worker waits
	idle atomic.Int32 // workers waiting on jobs
}

func (sc *serverConn) close() {
	sc.mu.Lock()
	sc.closed = true
	sc.mu.Unlock()
	sc.cancel()
	_ = sc.nc.Close()
	signal(sc.wake)
}

func (sc *serverConn) serve() {
	s := sc.s
	defer func() {
		sc.close()
		sc.wg.Wait()
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	if !sc.handshake() {
		return
	}
	br := bufio.NewReaderSize(sc.nc, 32<<10)
	bw := bufio.NewWriterSize(sc.nc, 32<<10)
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		if err := writeLoop(bw, sc.wake, sc.take, s.cfg.Metrics); err != nil && !errors.Is(err, ErrClosed) {
			s.cfg.Logger.Debug("relay connection: write failed", "remote", sc.nc.RemoteAddr().String(), "err", err)
		}
		sc.close()
	}()
	limit := requestPayloadLen(s.cfg.MaxBody)
	recv := s.cfg.Metrics.RelayFrames.WithLabelValues("received")
	for {
		p, err := readFrame(br, limit)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.cfg.Logger.Warn("relay connection dropped", "remote", sc.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		recv.Inc()
		id, req, err := decodeRequest(p)
		if err != nil {
			s.cfg.Logger.Warn("relay connection dropped", "remote", sc.nc.RemoteAddr().String(), "err", err)
			return
		}
		sc.dispatch(job{id: id, req: req})
	}
}

// handshake checks the follower's hello and answers it; false means the connection is done.
func (sc *serverConn) handshake() bool {
	s := sc.s
	_ = sc.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	var b [clientHelloLen]byte
	if _, err := io.ReadFull(sc.nc, b[:]); err != nil {
		return false
	}
	ver, cid, err := parseClientHello(b[:])
	if err != nil {
		s.cfg.Logger.Warn("relay connection refused", "remote", sc.nc.RemoteAddr().String(), "err", err)
		return false
	}
	status := byte(statusOK)
	switch {
	case ver != version:
		status = statusVersion
	case cid != s.cfg.ClusterID:
		status = statusClusterMismatch
	}
	max := uint32(min(int64(requestPayloadLen(s.cfg.MaxBody)), 1<<32-1))
	if _, err := sc.nc.Write(appendServerHello(nil, status, s.cfg.ClusterID, max)); err != nil || status != statusOK {
		if status == statusClusterMismatch {
			s.cfg.Logger.Warn("relay connection from another cluster refused", "remote", sc.nc.RemoteAddr().String(),
				"their_cluster", cid, "our_cluster", s.cfg.ClusterID)
		}
		return false
	}
	_ = sc.nc.SetDeadline(time.Time{})
	return true
}

func (sc *serverConn) handle(id uint64, req *Request) {
	timeout := sc.s.cfg.Timeout
	if req.Timeout > 0 && req.Timeout < timeout {
		timeout = req.Timeout
	}
	ctx, cancel := context.WithTimeout(sc.ctx, timeout)
	var frame []byte
	switch {
	case req.Flags&flagReadIndex != 0:
		frame = sc.s.readIndex(ctx, id)
	case req.Flags&flagCommitWait != 0:
		frame = sc.s.commitNotice(ctx, id, req)
	default:
		frame = sc.s.answer(ctx, id, req)
	}
	cancel()
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.replies = append(sc.replies, frame)
	sc.mu.Unlock()
	signal(sc.wake)
}

func (s *Server) answer(ctx context.Context, id uint64, req *Request) []byte {
	frame, err := encodeReply(id, s.cfg.Handle(ctx, req))
	if err != nil {
		// A reply we cannot encode is our own bug; the follower must not wait forever for it.
		s.cfg.Logger.Error("relay: cannot encode a reply", "err", err)
		frame, _ = encodeReply(id, &Reply{Status: 500, Body: []byte(err.Error())})
	}
	return frame
}

func (s *Server) readIndex(ctx context.Context, id uint64) []byte {
	if s.cfg.ReadIndex == nil {
		frame, _ := encodeReply(id, &Reply{Status: 501, Body: []byte("no read index over the relay here")})
		return frame
	}
	idx, err := s.cfg.ReadIndex(ctx)
	return encodeIndexReply(id, idx, err)
}

func (sc *serverConn) take(buf [][]byte) ([][]byte, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return buf, false
	}
	buf = append(buf, sc.replies...)
	clear(sc.replies)
	sc.replies = sc.replies[:0]
	return buf, true
}
