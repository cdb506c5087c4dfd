package store

import (
	"sort"
	"time"
)

// Actions as etcd names them on the wire.
const (
	Get              = "get"
	Create           = "create"
	Set              = "set"
	Update           = "update"
	Delete           = "delete"
	CompareAndSwap   = "compareAndSwap"
	CompareAndDelete = "compareAndDelete"
	Expire           = "expire"
)

// NodeExtern is a node as rendered to clients. Field order and tags give
// etcd's byte-for-byte JSON.
type NodeExtern struct {
	Key           string        `json:"key,omitempty"`
	Value         *string       `json:"value,omitempty"`
	Dir           bool          `json:"dir,omitempty"`
	Expiration    *time.Time    `json:"expiration,omitempty"`
	TTL           int64         `json:"ttl,omitempty"`
	Nodes         []*NodeExtern `json:"nodes,omitempty"`
	ModifiedIndex uint64        `json:"modifiedIndex,omitempty"`
	CreatedIndex  uint64        `json:"createdIndex,omitempty"`
}

// Event is the result of every operation and what watchers receive. Events
// handed out by the store are shared (history, several watchers): callers
// must treat them as read-only.
type Event struct {
	Action    string      `json:"action"`
	Node      *NodeExtern `json:"node,omitempty"`
	PrevNode  *NodeExtern `json:"prevNode,omitempty"`
	EtcdIndex uint64      `json:"-"` // store index when the event happened/was read
	Refresh   bool        `json:"-"`
}

// Index is the store index the event happened at (0 for a Get of the root).
func (e *Event) Index() uint64 { return e.Node.ModifiedIndex }

// IsCreated reports whether the event created a node, which etcd answers
// with 201 Created instead of 200.
func (e *Event) IsCreated() bool {
	return e.Action == Create || (e.Action == Set && e.PrevNode == nil)
}

// withIndex returns a shallow copy carrying etcdIndex, so that a shared
// history event is never mutated.
func (e *Event) withIndex(etcdIndex uint64) *Event {
	c := *e
	c.EtcdIndex = etcdIndex
	return &c
}

// matches reports whether a watcher of key (recursive or not) wants e. It
// is the history's rule; the live hub applies the same rule path by path.
func (e *Event) matches(key string, recursive bool) bool {
	if e.Refresh {
		return false
	}
	k := e.Node.Key
	if k == key {
		return true
	}
	if recursive && isUnder(k, key) && !hiddenBelow(key, k) {
		return true
	}
	// A removed directory takes every key below it along: their watchers
	// see the directory's delete/expire event.
	if e.PrevNode != nil && e.PrevNode.Dir && (e.Action == Delete || e.Action == Expire) {
		return isUnder(key, k)
	}
	return false
}

func sortNodes(ns []*NodeExtern) {
	sort.Slice(ns, func(i, j int) bool { return ns[i].Key < ns[j].Key })
}
