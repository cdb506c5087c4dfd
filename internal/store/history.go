package store

import "fmt"

// historySize is how many events a watcher can look back on, as etcd.
const historySize = 1000

// history is a ring of the last historySize events. Every index the store
// hands out belongs to exactly one event, so the ring holds a contiguous run
// of indexes and a lookup by index is an offset from the oldest.
type history struct {
	ring  []*Event
	head  int // position of the oldest event
	n     int
	first uint64 // oldest index still answerable when the ring is empty
}

func newHistory(firstIndex uint64) history {
	return history{ring: make([]*Event, historySize), first: firstIndex}
}

func (h *history) add(e *Event) {
	if h.n < len(h.ring) {
		h.ring[(h.head+h.n)%len(h.ring)] = e
		h.n++
		return
	}
	h.ring[h.head] = e
	h.head = (h.head + 1) % len(h.ring)
}

func (h *history) startIndex() uint64 {
	if h.n == 0 {
		return h.first
	}
	return h.ring[h.head].Index()
}

// scan returns the events at or after since that a watcher of key wants:
// only the first when !all. It fails with etcd's cause when since is older
// than the oldest event kept.
func (h *history) scan(key string, recursive bool, since uint64, all bool) ([]*Event, string, bool) {
	start := h.startIndex()
	if since < start {
		return nil, fmt.Sprintf("the requested history has been cleared [%d/%d]", start, since), false
	}
	if h.n == 0 || since > h.ring[(h.head+h.n-1)%len(h.ring)].Index() {
		return nil, "", true
	}
	var out []*Event
	for i := int(since - start); i < h.n; i++ {
		e := h.ring[(h.head+i)%len(h.ring)]
		if e.matches(key, recursive) {
			out = append(out, e)
			if !all {
				break
			}
		}
	}
	return out, "", true
}
