package store

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TTLOptions carries a node's expiry. The caller (the FSM) computes
// ExpireTime from the leader's time in the log entry plus the TTL, so the
// store never reads a clock.
type TTLOptions struct {
	ExpireTime time.Time // zero = permanent
	Refresh    bool      // keep the value, renew the TTL, wake no watcher
}

// Store is the keyspace. One writer (the FSM's apply) and many readers may
// use it concurrently.
type Store struct {
	mu    sync.RWMutex
	root  *node
	index uint64
	ttl   ttlHeap
	hist  history
	hub   *hub
	stats counters

	lastSnapshotSize atomic.Int64 // sizes the next snapshot buffer
	snapshotsAborted atomic.Bool  // AbortSnapshots was called
}

// New returns an empty store at index 0.
func New() *Store {
	return &Store{root: newDirNode("", 0), hist: newHistory(1), hub: newHub()}
}

// Index is the store's current index: the index of its latest event.
func (s *Store) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

func (s *Store) clean(key string) (string, *Error) {
	k, err := cleanKey(key)
	if err != nil {
		err.Index = s.index
		return "", err
	}
	return k, nil
}

// lookup finds the node at the clean path k. Like etcd it reports the first
// missing element (not the whole key) as the cause of a 100, and the file in
// the way as the cause of a 104.
func (s *Store) lookup(k string) (*node, *Error) {
	n, missing, err := s.walk(k)
	if err == nil && n == nil {
		err = newError(ErrKeyNotFound, k[:missing], s.index)
	}
	return n, err
}

// walk is lookup without building the 100 error: a missing node is nil with
// the length of the path up to its first missing element. Set on a new key
// (every write of a fresh key, and most of a log replay) needs no error.
func (s *Store) walk(k string) (*node, int, *Error) {
	n := s.root
	if k == "/" {
		return n, 0, nil
	}
	i := 1
	for {
		end := len(k)
		if j := strings.IndexByte(k[i:], '/'); j >= 0 {
			end = i + j
		}
		if !n.isDir() {
			return nil, 0, newError(ErrNotDir, k[:i-1], s.index)
		}
		c := n.children[k[i:end]]
		if c == nil {
			return nil, end, nil
		}
		n = c
		if end == len(k) {
			return n, 0, nil
		}
		i = end + 1
	}
}

// parentOf returns the directory holding the existing node at the clean,
// non-root path k.
func (s *Store) parentOf(k string) *node {
	p, _ := splitParent(k)
	d, _ := s.lookup(p)
	return d
}

// ensureDir returns the directory at the clean path p, creating missing
// directories (permanent, created at index) on the way, as etcd's walk does.
func (s *Store) ensureDir(p string, index uint64) (*node, *Error) {
	n := s.root
	if p == "/" {
		return n, nil
	}
	i := 1
	for {
		end := len(p)
		if j := strings.IndexByte(p[i:], '/'); j >= 0 {
			end = i + j
		}
		c := n.children[p[i:end]]
		switch {
		case c == nil:
			c = newDirNode(strings.Clone(p[i:end]), index)
			n.children[c.name] = c
		case !c.isDir():
			return nil, newError(ErrNotDir, p[:end], s.index)
		}
		n = c
		if end == len(p) {
			return n, nil
		}
		i = end + 1
	}
}

// record appends e to the history and wakes its watchers; a refresh is
// recorded (it holds an index) but wakes nobody.
func (s *Store) record(e *Event) {
	s.hist.add(e)
	if !e.Refresh {
		s.hub.notify(e)
	}
}

// removeNode unlinks n (at path p, in directory parent) and its subtree,
// taking their TTLs off the heap. For a directory, watchers of keys below it
// get e first.
func (s *Store) removeNode(parent, n *node, p string, e *Event) {
	if n.isDir() && len(n.children) > 0 {
		s.hub.notifyRemoved(e, n, p)
	}
	delete(parent.children, n.name)
	if len(s.ttl) > 0 {
		s.dropTTLs(n)
	}
}

func (s *Store) dropTTLs(n *node) {
	if !n.isPermanent() {
		s.ttl.remove(n)
	}
	for _, c := range n.children {
		s.dropTTLs(c)
	}
}

// Get returns the node at key. A directory lists its visible children, and
// their subtrees when recursive; sorted orders every listing by key. now
// only renders the remaining TTLs.
func (s *Store) Get(key string, recursive, sorted bool, now time.Time) (*Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.get(key, recursive, sorted, now)
	s.stats.result(statGetSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) get(key string, recursive, sorted bool, now time.Time) (*Event, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return nil, err
	}
	n, err := s.lookup(k)
	if err != nil {
		return nil, err
	}
	ne := &NodeExtern{Key: k, ModifiedIndex: n.modified, CreatedIndex: n.created}
	if n == s.root {
		// etcd keeps user keys under an internal directory whose name it
		// trims, so the root renders with no key and no indexes.
		ne.Key = ""
	}
	if n.isDir() {
		ne.Dir = true
		ne.Nodes = n.listChildren(s.ttl, k, recursive, sorted, now)
	} else {
		v := n.value
		ne.Value = &v
	}
	ne.Expiration, ne.TTL = s.ttl.expirationAndTTL(n, now)
	return &Event{Action: Get, Node: ne, EtcdIndex: s.index}, nil
}

// Set creates or replaces the node at key (action "set"). A directory is
// never replaced (ErrNotFile); a file may be replaced by a directory. With
// Refresh the existing value is kept and watchers are not woken.
func (s *Store) Set(key string, dir bool, value string, ttl TTLOptions, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.set(key, dir, value, ttl, now)
	s.stats.result(statSetSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) set(key string, dir bool, value string, ttl TTLOptions, now time.Time) (*Event, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return nil, err
	}
	n, _, err := s.walk(k)
	if err != nil {
		return nil, err
	}
	if ttl.Refresh {
		if n == nil {
			_, err = s.lookup(k)
			return nil, err
		}
		value = n.value
	}
	e, err := s.create(k, dir, value, false, true, ttl.ExpireTime, now, Set)
	if err != nil {
		return nil, err
	}
	e.Refresh = ttl.Refresh
	s.record(e)
	return e, nil
}

// Create makes a new node at key (action "create"); an existing one is
// ErrNodeExist. With unique it makes an in-order key below key, named by
// the new index zero-padded to 20 digits.
func (s *Store) Create(key string, dir bool, value string, unique bool, ttl TTLOptions, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.createOp(key, dir, value, unique, ttl, now)
	s.stats.result(statCreateSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) createOp(key string, dir bool, value string, unique bool, ttl TTLOptions, now time.Time) (*Event, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return nil, err
	}
	e, err := s.create(k, dir, value, unique, false, ttl.ExpireTime, now, Create)
	if err != nil {
		return nil, err
	}
	s.record(e)
	return e, nil
}

// create is etcd's internalCreate: it fails before changing anything,
// because a conflict can only be met where every ancestor already exists.
func (s *Store) create(k string, dir bool, value string, unique, replace bool, expire, now time.Time, action string) (*Event, *Error) {
	next := s.index + 1
	if unique {
		k = joinPath(k, fmt.Sprintf("%020d", next))
	}
	if k == "/" {
		return nil, newError(ErrRootReadOnly, "/", s.index)
	}
	parentPath, name := splitParent(k)
	d, err := s.ensureDir(parentPath, next)
	if err != nil {
		return nil, err
	}
	e := &Event{Action: action, Node: &NodeExtern{Key: k, ModifiedIndex: next, CreatedIndex: next}, EtcdIndex: next}
	if old := d.children[name]; old != nil {
		if !replace {
			return nil, newError(ErrNodeExist, k, s.index)
		}
		if old.isDir() {
			return nil, newError(ErrNotFile, k, s.index)
		}
		e.PrevNode = old.repr(s.ttl, k, false, false, now)
		s.removeNode(d, old, k, e)
	}
	name = strings.Clone(name)
	var n *node
	if dir {
		n = newDirNode(name, next)
		e.Node.Dir = true
	} else {
		n = newFile(name, value, next)
		e.Node.Value = &value
	}
	d.children[name] = n
	if !expire.IsZero() {
		s.setExpiry(n, k, expire)
		e.Node.Expiration, e.Node.TTL = s.ttl.expirationAndTTL(n, now)
	}
	s.index = next
	return e, nil
}

// Update changes an existing node's value and TTL (action "update"); no TTL
// makes it permanent. A directory takes only a TTL: like etcd 3.4 its
// modifiedIndex stays as it was.
func (s *Store) Update(key string, value string, ttl TTLOptions, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.update(key, value, ttl, now)
	s.stats.result(statUpdateSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) update(key string, value string, ttl TTLOptions, now time.Time) (*Event, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return nil, err
	}
	if k == "/" {
		return nil, newError(ErrRootReadOnly, "/", s.index)
	}
	n, err := s.lookup(k)
	if err != nil {
		return nil, err
	}
	if n.isDir() && value != "" {
		return nil, newError(ErrNotFile, k, s.index)
	}
	if ttl.Refresh {
		value = n.value
	}
	next := s.index + 1
	e := &Event{
		Action:    Update,
		Node:      &NodeExtern{Key: k, ModifiedIndex: next, CreatedIndex: n.created},
		PrevNode:  n.repr(s.ttl, k, false, false, now),
		EtcdIndex: next,
		Refresh:   ttl.Refresh,
	}
	if n.isDir() {
		e.Node.Dir = true
	} else {
		n.value, n.modified = value, next
		e.Node.Value = &value
	}
	s.setExpiry(n, k, ttl.ExpireTime)
	e.Node.Expiration, e.Node.TTL = s.ttl.expirationAndTTL(n, now)
	s.index = next
	s.record(e)
	return e, nil
}

// compareFailCause is etcd's cause text for a failed compare.
func compareFailCause(n *node, prevValue string, prevIndex uint64) (string, bool) {
	indexOK := prevIndex == 0 || n.modified == prevIndex
	valueOK := prevValue == "" || n.value == prevValue
	switch {
	case indexOK && valueOK:
		return "", true
	case indexOK:
		return fmt.Sprintf("[%v != %v]", prevValue, n.value), false
	case valueOK:
		return fmt.Sprintf("[%v != %v]", prevIndex, n.modified), false
	default:
		return fmt.Sprintf("[%v != %v] [%v != %v]", prevValue, n.value, prevIndex, n.modified), false
	}
}

// CompareAndSwap writes value when the file's current value and/or modified
// index match the given ones (an empty prevValue or a zero prevIndex is not
// compared).
func (s *Store) CompareAndSwap(key, prevValue string, prevIndex uint64, value string, ttl TTLOptions, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.cas(key, prevValue, prevIndex, value, ttl, now)
	s.stats.result(statCASSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) cas(key, prevValue string, prevIndex uint64, value string, ttl TTLOptions, now time.Time) (*Event, *Error) {
	k, n, err := s.compareTarget(key, prevValue, prevIndex)
	if err != nil {
		return nil, err
	}
	if ttl.Refresh {
		value = n.value
	}
	next := s.index + 1
	e := &Event{
		Action:    CompareAndSwap,
		Node:      &NodeExtern{Key: k, Value: &value, ModifiedIndex: next, CreatedIndex: n.created},
		PrevNode:  n.repr(s.ttl, k, false, false, now),
		EtcdIndex: next,
		Refresh:   ttl.Refresh,
	}
	n.value, n.modified = value, next
	s.setExpiry(n, k, ttl.ExpireTime)
	e.Node.Expiration, e.Node.TTL = s.ttl.expirationAndTTL(n, now)
	s.index = next
	s.record(e)
	return e, nil
}

// Delete removes a file, or a directory when dir (an empty one) or recursive
// (with everything below it).
func (s *Store) Delete(key string, dir, recursive bool, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.del(key, dir, recursive, now)
	s.stats.result(statDeleteSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) del(key string, dir, recursive bool, now time.Time) (*Event, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return nil, err
	}
	if k == "/" {
		return nil, newError(ErrRootReadOnly, "/", s.index)
	}
	n, err := s.lookup(k)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		if !dir && !recursive {
			return nil, newError(ErrNotFile, k, s.index)
		}
		if len(n.children) > 0 && !recursive {
			return nil, newError(ErrDirNotEmpty, k, s.index)
		}
	}
	next := s.index + 1
	e := &Event{
		Action:    Delete,
		Node:      &NodeExtern{Key: k, Dir: n.isDir(), ModifiedIndex: next, CreatedIndex: n.created},
		PrevNode:  n.repr(s.ttl, k, false, false, now),
		EtcdIndex: next,
	}
	s.index = next
	s.removeNode(s.parentOf(k), n, k, e)
	s.record(e)
	return e, nil
}

// CompareAndDelete removes a file when its value and/or modified index match.
func (s *Store) CompareAndDelete(key, prevValue string, prevIndex uint64, now time.Time) (*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.cad(key, prevValue, prevIndex, now)
	s.stats.result(statCADSuccess, err == nil)
	return asResult(e, err)
}

func (s *Store) cad(key, prevValue string, prevIndex uint64, now time.Time) (*Event, *Error) {
	k, n, err := s.compareTarget(key, prevValue, prevIndex)
	if err != nil {
		return nil, err
	}
	next := s.index + 1
	e := &Event{
		Action:    CompareAndDelete,
		Node:      &NodeExtern{Key: k, ModifiedIndex: next, CreatedIndex: n.created},
		PrevNode:  n.repr(s.ttl, k, false, false, now),
		EtcdIndex: next,
	}
	s.index = next
	s.removeNode(s.parentOf(k), n, k, e)
	s.record(e)
	return e, nil
}

// compareTarget finds the key a compare-and-swap or compare-and-delete acts on and checks its
// conditions, with etcd's errors for the root, a missing key, a directory and a failed compare.
func (s *Store) compareTarget(key, prevValue string, prevIndex uint64) (string, *node, *Error) {
	k, err := s.clean(key)
	if err != nil {
		return "", nil, err
	}
	if k == "/" {
		return "", nil, newError(ErrRootReadOnly, "/", s.index)
	}
	n, err := s.lookup(k)
	if err != nil {
		return "", nil, err
	}
	if n.isDir() {
		return "", nil, newError(ErrNotFile, k, s.index)
	}
	if cause, ok := compareFailCause(n, prevValue, prevIndex); !ok {
		return "", nil, newError(ErrTestFailed, cause, s.index)
	}
	return k, n, nil
}

// asResult returns a store failure as an error without the typed-nil trap: a nil *Error must
// become a nil error, not a non-nil interface holding nil.
func asResult(e *Event, err *Error) (*Event, error) {
	if err != nil {
		return nil, err
	}
	return e, nil
}
