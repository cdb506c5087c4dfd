package store

import "time"

// ttlEntry is a node with a TTL: its expiry (unix nanos) and full path live
// here rather than in every node.
type ttlEntry struct {
	expire int64
	path   string
	n      *node
}

// ttlHeap is a min-heap of the nodes that carry a TTL, ordered by expiry and
// then by path. The path tie-break makes the expiry order a total order, so a
// replica restored from a snapshot (whose heap was built in another order)
// expires keys in exactly the same order as one that never restarted.
type ttlHeap []ttlEntry

func (h ttlHeap) less(i, j int) bool {
	if h[i].expire != h[j].expire {
		return h[i].expire < h[j].expire
	}
	return h[i].path < h[j].path
}

func (h ttlHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].n.heapIdx = int32(i)
	h[j].n.heapIdx = int32(j)
}

func (h ttlHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			return
		}
		h.swap(i, j)
		j = i
	}
}

// down reports whether the element at i moved.
func (h ttlHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h *ttlHeap) push(n *node, path string, expire int64) {
	n.heapIdx = int32(len(*h))
	*h = append(*h, ttlEntry{expire: expire, path: path, n: n})
	h.up(len(*h) - 1)
}

func (h *ttlHeap) remove(n *node) {
	i := int(n.heapIdx)
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = ttlEntry{}
	*h = (*h)[:last]
	n.heapIdx = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h ttlHeap) fix(n *node, expire int64) {
	i := int(n.heapIdx)
	h[i].expire = expire
	if !h.down(i) {
		h.up(i)
	}
}

// init orders a heap whose elements were appended without ordering.
func (h ttlHeap) init() {
	for i := range h {
		h[i].n.heapIdx = int32(i)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// setExpiry gives n (at path p) the expiry t (zero: permanent) and keeps the
// heap in step, which is etcd's UpdateTTL.
func (s *Store) setExpiry(n *node, p string, t time.Time) {
	switch {
	case t.IsZero() && n.isPermanent():
	case t.IsZero():
		s.ttl.remove(n)
	case n.isPermanent():
		s.ttl.push(n, p, t.UnixNano())
	default:
		s.ttl.fix(n, t.UnixNano())
	}
}

// NextExpiration returns the earliest pending expiry, for the leader's expiry
// loop; false when no node has a TTL.
func (s *Store) NextExpiration() (time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.ttl) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, s.ttl[0].expire).UTC(), true
}

// DeleteExpiredKeys removes every node whose expiry is at or before cutoff,
// earliest first (ties by path), each as an "expire" event with its own index
// that watchers receive. cutoff is the leader's time carried in the log, so
// every replica expires the same nodes at the same indexes.
func (s *Store) DeleteExpiredKeys(cutoff time.Time) []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := cutoff.UnixNano()
	var events []*Event
	for len(s.ttl) > 0 && s.ttl[0].expire <= c {
		n, p := s.ttl[0].n, s.ttl[0].path
		s.index++
		e := &Event{
			Action:    Expire,
			Node:      &NodeExtern{Key: p, Dir: n.isDir(), ModifiedIndex: s.index, CreatedIndex: n.created},
			PrevNode:  n.repr(s.ttl, p, false, false, cutoff),
			EtcdIndex: s.index,
		}
		s.removeNode(s.parentOf(p), n, p, e)
		s.stats.inc(statExpireCount)
		s.record(e)
		events = append(events, e)
	}
	return events
}
