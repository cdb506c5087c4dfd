package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The history section of a version 2 snapshot: the ring's events, oldest
// first, each as
//
//	action byte (index in actionCodes) | flags byte (1 node, 2 prevNode,
//	4 refresh) | uvarint etcdIndex | [node] | [prevNode]
//	node: flags byte (1 value, 2 dir, 4 expiration, 8 nil) | uvarint len, key |
//	      [uvarint len, value] | [8 bytes LE unix nanos] | varint ttl |
//	      uvarint modified | uvarint created | uvarint #nodes, node...
//
// An event is rendered later exactly as it was when it happened (ttl
// included), as etcd answers from its history.
var actionCodes = [...]string{Get, Create, Set, Update, Delete, CompareAndSwap, CompareAndDelete, Expire}

const (
	evNode    = 1 << 0
	evPrev    = 1 << 1
	evRefresh = 1 << 2

	neValue      = 1 << 0
	neDir        = 1 << 1
	neExpiration = 1 << 2
	neNil        = 1 << 3
)

func actionCode(a string) byte {
	for i, s := range actionCodes {
		if s == a {
			return byte(i)
		}
	}
	// Every action the store records is in actionCodes; the test of every
	// action round trip holds that.
	panic("store: unknown action " + a)
}

func (h *history) appendTo(buf []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(h.n))
	for i := 0; i < h.n; i++ {
		buf = appendEvent(buf, h.ring[(h.head+i)%len(h.ring)])
	}
	return buf
}

func appendEvent(buf []byte, e *Event) []byte {
	var flags byte
	if e.Node != nil {
		flags |= evNode
	}
	if e.PrevNode != nil {
		flags |= evPrev
	}
	if e.Refresh {
		flags |= evRefresh
	}
	buf = append(buf, actionCode(e.Action), flags)
	buf = binary.AppendUvarint(buf, e.EtcdIndex)
	if e.Node != nil {
		buf = appendExtern(buf, e.Node)
	}
	if e.PrevNode != nil {
		buf = appendExtern(buf, e.PrevNode)
	}
	return buf
}

func appendExtern(buf []byte, n *NodeExtern) []byte {
	if n == nil {
		return append(buf, neNil)
	}
	var flags byte
	if n.Value != nil {
		flags |= neValue
	}
	if n.Dir {
		flags |= neDir
	}
	if n.Expiration != nil {
		flags |= neExpiration
	}
	buf = append(buf, flags)
	buf = binary.AppendUvarint(buf, uint64(len(n.Key)))
	buf = append(buf, n.Key...)
	if n.Value != nil {
		buf = binary.AppendUvarint(buf, uint64(len(*n.Value)))
		buf = append(buf, *n.Value...)
	}
	if n.Expiration != nil {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(n.Expiration.UnixNano()))
	}
	buf = binary.AppendVarint(buf, n.TTL)
	buf = binary.AppendUvarint(buf, n.ModifiedIndex)
	buf = binary.AppendUvarint(buf, n.CreatedIndex)
	buf = binary.AppendUvarint(buf, uint64(len(n.Nodes)))
	for _, c := range n.Nodes {
		buf = appendExtern(buf, c)
	}
	return buf
}

// history reads the event section of a snapshot of a store at index. The
// ring's invariant is checked, not trusted: at most historySize events, one
// per index, contiguous and ending at index.
func (d *decoder) history(index uint64) (history, error) {
	h := newHistory(index + 1)
	count, err := d.uvarint()
	if err != nil {
		return h, d.fail("event count", err)
	}
	if count > historySize || count > index {
		return h, d.fail(fmt.Sprintf("%d events in the history of a store at index %d", count, index), nil)
	}
	next := index - count + 1
	for i := uint64(0); i < count; i++ {
		e, err := d.event()
		if err != nil {
			return h, err
		}
		if e.Node == nil || e.Index() != next {
			return h, d.fail(fmt.Sprintf("history event %d is not at index %d", i, next), nil)
		}
		h.add(e)
		next++
	}
	return h, nil
}

func (d *decoder) event() (*Event, error) {
	code, err := d.byte()
	if err != nil {
		return nil, d.fail("event action", err)
	}
	if int(code) >= len(actionCodes) {
		return nil, d.fail(fmt.Sprintf("unknown event action %d", code), nil)
	}
	flags, err := d.byte()
	if err != nil {
		return nil, d.fail("event flags", err)
	}
	if flags&^(evNode|evPrev|evRefresh) != 0 {
		return nil, d.fail(fmt.Sprintf("unknown event flags %#x", flags), nil)
	}
	e := &Event{Action: actionCodes[code], Refresh: flags&evRefresh != 0}
	if e.EtcdIndex, err = d.uvarint(); err != nil {
		return nil, d.fail("event index", err)
	}
	if flags&evNode != 0 {
		if e.Node, err = d.extern(0); err != nil {
			return nil, err
		}
	}
	if flags&evPrev != 0 {
		if e.PrevNode, err = d.extern(0); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (d *decoder) extern(depth int) (*NodeExtern, error) {
	if depth > maxDepth {
		return nil, d.fail("event node too deep", nil)
	}
	flags, err := d.byte()
	if err != nil {
		return nil, d.fail("event node flags", err)
	}
	if flags == neNil {
		return nil, nil
	}
	if flags&^(neValue|neDir|neExpiration) != 0 {
		return nil, d.fail(fmt.Sprintf("unknown event node flags %#x", flags), nil)
	}
	n := &NodeExtern{Dir: flags&neDir != 0}
	if n.Key, err = d.str(); err != nil {
		return nil, d.fail("event key", err)
	}
	if flags&neValue != 0 {
		v, err := d.str()
		if err != nil {
			return nil, d.fail("event value", err)
		}
		n.Value = &v
	}
	if flags&neExpiration != 0 {
		b, err := d.bytes(8)
		if err != nil {
			return nil, d.fail("event expiration", err)
		}
		t := time.Unix(0, int64(binary.LittleEndian.Uint64(b))).UTC()
		n.Expiration = &t
	}
	if n.TTL, err = d.varint(); err != nil {
		return nil, d.fail("event ttl", err)
	}
	if n.ModifiedIndex, err = d.uvarint(); err != nil {
		return nil, d.fail("event modified index", err)
	}
	if n.CreatedIndex, err = d.uvarint(); err != nil {
		return nil, d.fail("event created index", err)
	}
	count, err := d.uvarint()
	if err != nil {
		return nil, d.fail("event child count", err)
	}
	for ; count > 0; count-- {
		c, err := d.extern(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Nodes = append(n.Nodes, c)
	}
	return n, nil
}

func (d *decoder) varint() (int64, error) {
	ux, err := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, err
}
