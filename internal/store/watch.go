package store

import (
	"strings"
	"sync"
	"sync/atomic"
)

// streamBuffer is how many undelivered events a stream watcher may queue
// before it is dropped (its channel closed) rather than given a silent gap.
const streamBuffer = 100

// Watcher is one registered watch. Its channel is closed when the watcher is
// dropped: by Remove, by overflowing its buffer, or by a Restore. A one-shot
// watcher that fired keeps its single event readable in the channel.
type Watcher struct {
	ch         chan *Event
	key        string
	recursive  bool
	stream     bool
	sinceIndex uint64
	startIndex uint64
	hub        *hub

	// Guarded by hub.mu. Watchers of one path form an intrusive list so
	// that removal is O(1) and an idle watcher costs one small struct and
	// its channel, never a goroutine.
	prev, next *Watcher
	linked     bool
	closed     bool
}

// EventChan delivers the watched events.
func (w *Watcher) EventChan() <-chan *Event { return w.ch }

// StartIndex is the store index when the watch was registered (the
// X-Etcd-Index of a watch response).
func (w *Watcher) StartIndex() uint64 { return w.startIndex }

// Remove unregisters the watcher and closes its channel. It is idempotent
// and safe to call from any goroutine, e.g. when a client hangs up.
func (w *Watcher) Remove() {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(w)
}

type watcherList struct{ head, tail *Watcher }

// hub indexes live watchers by the path they watch. Registration and
// notification both run while the store lock is held (read lock for Watch,
// write lock for mutations), so no event can fall between a watcher's
// history scan and its registration; hub.mu only orders concurrent Watch
// and Remove calls among themselves.
type hub struct {
	mu    sync.Mutex
	paths map[string]*watcherList
	count int
	// overflowed counts watchers dropped because they fell behind (their buffer was full).
	overflowed atomic.Uint64
}

func newHub() *hub { return &hub{paths: make(map[string]*watcherList)} }

func (h *hub) link(w *Watcher) {
	l := h.paths[w.key]
	if l == nil {
		l = &watcherList{}
		h.paths[w.key] = l
	}
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	w.linked = true
	h.count++
}

func (h *hub) unlink(w *Watcher) {
	if !w.linked {
		return
	}
	l := h.paths[w.key]
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next, w.linked = nil, nil, false
	if l.head == nil {
		delete(h.paths, w.key)
	}
	h.count--
}

func (h *hub) drop(w *Watcher) {
	h.unlink(w)
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

// deliver hands e to w without ever blocking the apply path: a full stream
// watcher is dropped, so its reader sees the channel close instead of a gap.
func (h *hub) deliver(w *Watcher, e *Event) {
	if e.Index() < w.sinceIndex {
		return
	}
	select {
	case w.ch <- e:
		if !w.stream {
			h.unlink(w)
		}
	default:
		h.overflowed.Add(1)
		h.drop(w)
	}
}

// notify delivers e to the watchers of its key and of every ancestor that
// watch recursively (unless a hidden element lies between them).
func (h *hub) notify(e *Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.paths) == 0 {
		return
	}
	key := e.Node.Key
	h.notifyPath("/", key, e)
	for i := 2; i <= len(key); i++ {
		if i == len(key) || key[i] == '/' {
			h.notifyPath(key[:i], key, e)
		}
	}
}

// notifyPath delivers e (an event at key) to the watchers of p, which is key
// itself or one of its ancestors.
func (h *hub) notifyPath(p, key string, e *Event) {
	l := h.paths[p]
	if l == nil {
		return
	}
	exact := p == key
	for w := l.head; w != nil; {
		next := w.next
		if exact || (w.recursive && !hiddenBelow(p, key)) {
			h.deliver(w, e)
		}
		w = next
	}
}

// notifyRemoved delivers e (the delete/expire of directory dir at path p) to
// the watchers of keys that exist below it, whether or not they watch
// recursively, as etcd does. It runs before the subtree is unlinked.
func (h *hub) notifyRemoved(e *Event, dir *node, p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for wp, l := range h.paths {
		if !isUnder(wp, p) || !existsBelow(dir, p, wp) {
			continue
		}
		for w := l.head; w != nil; {
			next := w.next
			h.deliver(w, e)
			w = next
		}
	}
}

// existsBelow reports whether the clean path wp (below dir's path p) names a
// node in dir's subtree.
func existsBelow(dir *node, p, wp string) bool {
	rest := wp[len(p)+1:]
	if p == "/" {
		rest = wp[1:]
	}
	n := dir
	for rest != "" {
		name := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if n = n.child(name); n == nil {
			return false
		}
	}
	return true
}

// closeAll drops every watcher, for Restore.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.paths {
		for w := l.head; w != nil; {
			next := w.next
			h.drop(w)
			w = next
		}
	}
}

// Watch registers a watcher of key (and of everything below it when
// recursive). sinceIndex 0 means the next event. When sinceIndex is still in
// the history the answer comes from there: a one-shot watcher receives the
// first matching event at once and is not registered; a stream watcher
// receives every matching event since then and stays registered for the
// rest. A sinceIndex older than the history fails with ErrEventIndexCleared.
func (s *Store) Watch(key string, recursive, stream bool, sinceIndex uint64) (*Watcher, error) {
	k, kerr := cleanKey(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if kerr != nil {
		kerr.Index = s.index
		return nil, kerr
	}
	if sinceIndex == 0 {
		sinceIndex = s.index + 1
	}
	past, cause, ok := s.hist.scan(k, recursive, sinceIndex, stream)
	if !ok {
		return nil, newError(ErrEventIndexCleared, cause, s.index)
	}
	w := &Watcher{key: k, recursive: recursive, stream: stream, sinceIndex: sinceIndex, startIndex: s.index, hub: s.hub}
	if !stream {
		w.ch = make(chan *Event, 1)
		if len(past) > 0 {
			w.ch <- past[0].withIndex(s.index)
			return w, nil
		}
	} else {
		w.ch = make(chan *Event, streamBuffer+len(past))
		for _, e := range past {
			w.ch <- e.withIndex(s.index)
		}
		if len(past) > 0 {
			w.sinceIndex = s.index + 1
		}
	}
	s.hub.mu.Lock()
	s.hub.link(w)
	s.hub.mu.Unlock()
	return w, nil
}

// DroppedWatchers counts the watchers dropped because they fell behind the events.
func (s *Store) DroppedWatchers() uint64 { return s.hub.overflowed.Load() }

// WatcherCount is the number of registered watchers.
func (s *Store) WatcherCount() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.hub.count
}
