package quorum

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	wire "github.com/cairn-io/cairn/api/quorum"
)

var (
	// ErrServerClosed is returned by Serve after Close.
	ErrServerClosed = errors.New("quorum: server closed")
	// ErrAlreadyServing is returned by a second call to Serve.
	ErrAlreadyServing = errors.New("quorum: Serve called twice")
)

// Server answers quorum queries on one UDP socket, one packet at a time: answers are
// small local reads, so a single loop keeps the replay cache and buffers free of locks.
type Server struct {
	cfg      Config
	src      Source
	conn     *net.UDPConn
	counters *counters

	// Owned by the receive loop.
	codec  *wire.Codec
	replay *replayCache
	in     []byte
	out    []byte
	req    wire.Request

	mu      sync.Mutex
	serving bool
	closed  bool
	done    chan struct{}
}

// New validates cfg and binds the UDP socket, so a bad address or a missing key fails at
// start, before Serve.
func New(cfg Config, src Source) (*Server, error) {
	if src == nil {
		return nil, errors.New("quorum: nil Source")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	codec, err := wire.NewCodec(cfg.Key)
	if err != nil {
		return nil, err
	}
	ctrs, err := newCounters(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("quorum: register metrics: %w", err)
	}
	addr, err := net.ResolveUDPAddr("udp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("quorum: listen address %q: %w", cfg.ListenAddr, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("quorum: listen on %q: %w", cfg.ListenAddr, err)
	}
	return &Server{
		cfg:      cfg,
		src:      src,
		conn:     conn,
		counters: ctrs,
		codec:    codec,
		replay:   newReplayCache(cfg.ReplayCacheSize),
		// One spare byte tells an oversized datagram from one of exactly the limit.
		in:   make([]byte, cfg.MaxPacketSize+1),
		out:  make([]byte, 0, 1500),
		done: make(chan struct{}),
	}, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats { return s.counters.snapshot() }

// Serve answers packets until ctx ends or Close is called, then returns nil. It may be
// called once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.serving {
		s.mu.Unlock()
		return ErrAlreadyServing
	}
	s.serving = true
	s.mu.Unlock()
	defer close(s.done)

	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	s.cfg.Logger.Info("quorum: serving", "addr", s.Addr().String())
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(s.in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// UDP reads fail only transiently (e.g. a queued ICMP error); keep serving.
			s.cfg.Logger.Debug("quorum: read failed", "err", err)
			continue
		}
		s.handle(s.in[:n], from)
	}
}

// Close stops Serve and waits for it to return. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	serving := s.serving
	s.mu.Unlock()

	err := s.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // Serve's context already closed it
	}
	if serving {
		<-s.done
	}
	return err
}
