package store

import "time"

// node is one key or directory. It is kept to a 64-byte allocation because
// the store may hold millions of them: only the last path element is stored
// (the full path is known from the request), a directory is a node whose
// children map is non-nil (as in etcd), and there is no parent pointer or
// expiry: a node with a TTL has an entry in the TTL heap that holds its
// expiry and full path instead, so permanent nodes pay nothing for TTLs.
type node struct {
	name     string
	value    string
	children map[string]*node
	created  uint64
	modified uint64
	heapIdx  int32 // position in the TTL heap, -1 when permanent
}

func newFile(name, value string, index uint64) *node {
	return &node{name: name, value: value, created: index, modified: index, heapIdx: -1}
}

func newDirNode(name string, index uint64) *node {
	return &node{name: name, children: make(map[string]*node), created: index, modified: index, heapIdx: -1}
}

func (n *node) isDir() bool       { return n.children != nil }
func (n *node) isPermanent() bool { return n.heapIdx < 0 }
func (n *node) isHidden() bool    { return n.name != "" && n.name[0] == '_' }

// expirationAndTTL renders the expiry as etcd does: the absolute time in UTC
// and the remaining seconds rounded up, so a key not yet expired always shows
// at least 1. A key past its expiry but not yet removed shows no ttl rather
// than a negative one.
func (h ttlHeap) expirationAndTTL(n *node, now time.Time) (*time.Time, int64) {
	if n.isPermanent() {
		return nil, 0
	}
	expire := h[n.heapIdx].expire
	t := time.Unix(0, expire).UTC()
	left := expire - now.UnixNano()
	if left <= 0 {
		return &t, 0
	}
	ttl := left / int64(time.Second)
	if left%int64(time.Second) != 0 {
		ttl++
	}
	return &t, ttl
}

// repr renders n at path p. Directories list their visible children only
// when recursive (etcd's Repr); Store.get renders the top node of a Get.
func (n *node) repr(h ttlHeap, p string, recursive, sorted bool, now time.Time) *NodeExtern {
	ne := &NodeExtern{Key: p, ModifiedIndex: n.modified, CreatedIndex: n.created}
	ne.Expiration, ne.TTL = h.expirationAndTTL(n, now)
	if !n.isDir() {
		v := n.value
		ne.Value = &v
		return ne
	}
	ne.Dir = true
	if recursive {
		ne.Nodes = n.listChildren(h, p, recursive, sorted, now)
	}
	return ne
}

// listChildren renders the visible children of the directory n at path p.
func (n *node) listChildren(h ttlHeap, p string, recursive, sorted bool, now time.Time) []*NodeExtern {
	nodes := make([]*NodeExtern, 0, len(n.children))
	for name, c := range n.children {
		if c.isHidden() {
			continue
		}
		nodes = append(nodes, c.repr(h, joinPath(p, name), recursive, sorted, now))
	}
	if sorted {
		sortNodes(nodes)
	}
	return nodes
}

// child walks one element down, for lookups of paths that are already clean.
func (n *node) child(name string) *node {
	if n.children == nil {
		return nil
	}
	return n.children[name]
}
