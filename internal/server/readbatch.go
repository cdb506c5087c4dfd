package server

import (
	"context"
	"sync"
	"time"
)

// readRound is one read-index request from a follower to the leader, shared by every
// linearizable read that arrived before it was sent.
type readRound struct {
	done  chan struct{}
	idx   uint64
	retry bool
	err   error
}

// readBatcher makes a follower's concurrent linearizable reads share one round trip to the
// leader. A read only ever joins a round that has not been sent yet, so the index it gets was
// fixed after the read began, which is what linearizability needs; while one round is in
// flight, arrivals gather in the next.
type readBatcher struct {
	mu       sync.Mutex
	next     *readRound
	inflight bool
	fetch    func(ctx context.Context) (uint64, bool, error)
	timeout  time.Duration
}

func (b *readBatcher) join() *readRound {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		b.next = &readRound{done: make(chan struct{})}
	}
	r := b.next
	if !b.inflight {
		b.startLocked()
	}
	return r
}

func (b *readBatcher) startLocked() {
	r := b.next
	b.next = nil
	b.inflight = true
	go func() {
		// The round outlives any one caller: a cancelled read must not fail the others.
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		r.idx, r.retry, r.err = b.fetch(ctx)
		cancel()
		close(r.done)
		b.mu.Lock()
		b.inflight = false
		if b.next != nil {
			b.startLocked()
		}
		b.mu.Unlock()
	}()
}
