package quorum

import (
	"container/heap"

	wire "github.com/cairn-io/cairn/api/quorum"
)

type salt = [wire.SaltSize]byte

type replayVerdict int

const (
	saltFresh replayVerdict = iota
	saltReplayed
	cacheFull
)

// replayCache remembers salts until their request's timestamp leaves the window. A heap
// ordered by that expiry makes eviction cheap even though requests arrive out of
// timestamp order. Not safe for concurrent use: only the receive loop touches it.
type replayCache struct {
	max     int
	seen    map[salt]struct{}
	expires expiryHeap
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[salt]struct{})}
}

// check records s, valid until expiresAt (unix ns), unless it is already known or the
// cache is full. Entries expired at now are evicted first.
func (c *replayCache) check(s salt, expiresAt, now int64) replayVerdict {
	for len(c.expires) > 0 && c.expires[0].at < now {
		delete(c.seen, heap.Pop(&c.expires).(entry).salt)
	}
	if _, ok := c.seen[s]; ok {
		return saltReplayed
	}
	if len(c.seen) >= c.max {
		return cacheFull
	}
	c.seen[s] = struct{}{}
	heap.Push(&c.expires, entry{salt: s, at: expiresAt})
	return saltFresh
}

func (c *replayCache) len() int { return len(c.seen) }

type entry struct {
	salt salt
	at   int64
}

type expiryHeap []entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
