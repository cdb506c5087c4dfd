package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
)

// Snapshot is an immutable image of the store, safe to write out while the
// store keeps changing.
type Snapshot interface {
	WriteTo(w io.Writer) (int64, error)
}

// The encoding is flat and compact: a header, then the tree in pre-order
// with each node's own name (not its full path), varint indexes, the
// absolute expiry for nodes with a TTL, the event history (version 2 on),
// and a CRC-32C trailer over everything before it.
//
//	"CAIRNKV2" | uvarint index | uvarint #root children | node... |
//	      uvarint #events | event... | crc32c (LE)
//	node: flags byte (1 dir, 2 ttl) | uvarint len, name | uvarint created |
//	      uvarint modified | [ttl: 8 bytes LE unix nanos] |
//	      file: uvarint len, value | dir: uvarint #children, node...
//	event: see history_snapshot.go
//
// Version 1 ("CAIRNKV1", written by builds before the history was kept) is
// the same without the event section; it still restores, with an empty
// history as it always had.
const (
	snapshotMagic   = "CAIRNKV2"
	snapshotMagicV1 = "CAIRNKV1"
)

const (
	flagDir = 1 << 0
	flagTTL = 1 << 1

	// maxDepth bounds recursion on restore; real keys are limited far below.
	maxDepth = 1 << 14
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadSnapshot is returned by Restore for input that is not a complete,
// intact store snapshot. The store is left unchanged.
var ErrBadSnapshot = errors.New("store: bad snapshot")

type snapshotBytes []byte

func (b snapshotBytes) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

// Snapshot encodes the whole tree into one buffer under the read lock. That
// costs a pass over the tree on the apply path (see README for figures), but
// the result is a flat byte slice: no pointers for the GC, roughly the size
// of the keys and values, and immutable once returned. After AbortSnapshots
// the snapshot's WriteTo fails with ErrSnapshotAborted.
func (s *Store) Snapshot() Snapshot {
	snap, err := s.SnapshotAbortable()
	if err != nil {
		return failedSnapshot{err}
	}
	return snap
}

// ErrSnapshotAborted: AbortSnapshots was called while or before the
// snapshot was being encoded.
var ErrSnapshotAborted = errors.New("store: snapshot aborted")

// AbortSnapshots makes the snapshot being encoded, and every later one,
// stop with ErrSnapshotAborted. A stopping node calls it: encoding a large
// store on a loaded machine can take longer than the stop may.
func (s *Store) AbortSnapshots() { s.snapshotsAborted.Store(true) }

// SnapshotFormat is the encoding a snapshot is written in.
type SnapshotFormat int

const (
	// SnapshotV1 has no event history: the only format builds before the
	// history existed can restore, written while such a member may still
	// receive the snapshot (a cluster below the version that added it).
	SnapshotV1 SnapshotFormat = 1
	// SnapshotV2 carries the event history.
	SnapshotV2 SnapshotFormat = 2
)

// SnapshotAbortable is Snapshot with the abort as an error. The flag is
// checked every abortCheckNodes nodes, so an abort ends the encoding within
// microseconds.
func (s *Store) SnapshotAbortable() (Snapshot, error) { return s.SnapshotIn(SnapshotV2) }

// SnapshotIn is SnapshotAbortable in the given format. A version 1 snapshot
// drops the event history, which a member restoring it starts without.
func (s *Store) SnapshotIn(format SnapshotFormat) (Snapshot, error) {
	if format != SnapshotV1 && format != SnapshotV2 {
		return nil, fmt.Errorf("store: no snapshot format %d", format)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := &encoder{buf: make([]byte, 0, s.lastSnapshotSize.Load()+4096), h: s.ttl, abort: &s.snapshotsAborted}
	if e.abort.Load() {
		return nil, ErrSnapshotAborted
	}
	if format == SnapshotV1 {
		e.buf = append(e.buf, snapshotMagicV1...)
	} else {
		e.buf = append(e.buf, snapshotMagic...)
	}
	e.buf = binary.AppendUvarint(e.buf, s.index)
	e.children(s.root)
	if e.aborted {
		return nil, ErrSnapshotAborted
	}
	buf := e.buf
	if format == SnapshotV2 {
		buf = s.hist.appendTo(buf)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	s.lastSnapshotSize.Store(int64(len(buf)))
	return snapshotBytes(buf), nil
}

type failedSnapshot struct{ err error }

func (f failedSnapshot) WriteTo(io.Writer) (int64, error) { return 0, f.err }

const abortCheckNodes = 4096

type encoder struct {
	buf     []byte
	h       ttlHeap
	abort   *atomic.Bool
	n       int
	aborted bool
}

func (e *encoder) children(d *node) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(d.children)))
	for _, c := range d.children {
		if e.n++; e.n%abortCheckNodes == 0 && e.abort.Load() {
			e.aborted = true
		}
		if e.aborted {
			return
		}
		e.node(c)
	}
}

func (e *encoder) node(n *node) {
	var flags byte
	if n.isDir() {
		flags |= flagDir
	}
	if !n.isPermanent() {
		flags |= flagTTL
	}
	buf := append(e.buf, flags)
	buf = binary.AppendUvarint(buf, uint64(len(n.name)))
	buf = append(buf, n.name...)
	buf = binary.AppendUvarint(buf, n.created)
	buf = binary.AppendUvarint(buf, n.modified)
	if flags&flagTTL != 0 {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.h[n.heapIdx].expire))
	}
	if flags&flagDir != 0 {
		e.buf = buf
		e.children(n)
		return
	}
	buf = binary.AppendUvarint(buf, uint64(len(n.value)))
	e.buf = append(buf, n.value...)
}

// Restore replaces the whole store with a snapshot: tree, index, TTLs
// (absolute expiry times, so nothing expires early or late because of the
// restart) and the event history, so that a watch with a waitIndex within
// the last historySize events is answered after a restart as before it (as
// etcd keeps its last events in its snapshots). Every watcher is dropped
// (its channel closes). A version 1 snapshot carries no history: the history
// starts empty after it, and an older waitIndex gets ErrEventIndexCleared
// rather than a gap. The operation counters are kept.
func (s *Store) Restore(r io.Reader) error {
	cr := &crcReader{r: r}
	d := &decoder{r: bufio.NewReaderSize(cr, 64<<10), sums: cr}
	root, index, heap, hist, err := d.decode()
	if err != nil {
		return err
	}
	heap.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.root, s.index, s.ttl, s.hist = root, index, heap, hist
	s.hub.closeAll()
	return nil
}

type decoder struct {
	r       *bufio.Reader
	sums    *crcReader
	heap    ttlHeap
	scratch []byte
}

func (d *decoder) fail(what string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadSnapshot, what, err)
	}
	return fmt.Errorf("%w: %s", ErrBadSnapshot, what)
}

func (d *decoder) decode() (*node, uint64, ttlHeap, history, error) {
	fail := func(err error) (*node, uint64, ttlHeap, history, error) { return nil, 0, nil, history{}, err }
	magic, err := d.bytes(len(snapshotMagic))
	if err != nil {
		return fail(d.fail("not a store snapshot", err))
	}
	withHistory := false
	switch string(magic) {
	case snapshotMagic:
		withHistory = true
	case snapshotMagicV1:
	default:
		return fail(d.fail("not a store snapshot", nil))
	}
	index, err := d.uvarint()
	if err != nil {
		return fail(d.fail("index", err))
	}
	root := newDirNode("", 0)
	if err := d.children(root, "/", 0); err != nil {
		return fail(err)
	}
	hist := newHistory(index + 1)
	if withHistory {
		if hist, err = d.history(index); err != nil {
			return fail(err)
		}
	}
	var trailer [4]byte
	if _, err := io.ReadFull(d.r, trailer[:]); err != nil {
		return fail(d.fail("checksum", err))
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return fail(d.fail("trailing data", nil))
	}
	// At the end of the stream the reader's last four bytes are the trailer
	// just read, and its sum covers everything before them.
	if binary.LittleEndian.Uint32(trailer[:]) != d.sums.sum || d.sums.tail != trailer {
		return fail(d.fail("checksum mismatch", nil))
	}
	return root, index, d.heap, hist, nil
}

// crcReader checksums what passes through it except the last four bytes
// seen so far, which it holds back: at the end of the stream they are the
// trailer and sum is the checksum of everything before it. The decoder thus
// reads from a plain bufio.Reader, without a checksum call per field.
type crcReader struct {
	r    io.Reader
	sum  uint32
	tail [4]byte
	n    int // bytes held in tail (< 4 only near the start)
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	b := p[:n]
	if c.n+len(b) <= 4 {
		copy(c.tail[c.n:], b)
		c.n += len(b)
		return n, err
	}
	// Everything held back, and all but the last four new bytes, is now
	// known not to be the trailer.
	if len(b) >= 4 {
		c.sum = crc32.Update(c.sum, castagnoli, c.tail[:c.n])
		c.sum = crc32.Update(c.sum, castagnoli, b[:len(b)-4])
		copy(c.tail[:], b[len(b)-4:])
	} else {
		drop := c.n + len(b) - 4
		c.sum = crc32.Update(c.sum, castagnoli, c.tail[:drop])
		var t [8]byte
		copy(t[:], c.tail[:c.n])
		copy(t[c.n:], b)
		copy(c.tail[:], t[drop:drop+4])
	}
	c.n = 4
	return n, err
}

func (d *decoder) children(dir *node, dirPath string, depth int) error {
	if depth > maxDepth {
		return d.fail("tree too deep", nil)
	}
	count, err := d.uvarint()
	if err != nil {
		return d.fail("child count", err)
	}
	// The directory's map is made at its final size, and its nodes are
	// allocated a slab at a time: a restore builds a million nodes, and map
	// growth and one allocation per node were most of its cost. The count is
	// not trusted for the sizes (the checksum is checked only at the end).
	if count > 0 {
		dir.children = make(map[string]*node, min(count, maxPresize))
	}
	var slab []node
	for ; count > 0; count-- {
		if len(slab) == 0 {
			slab = make([]node, min(count, nodeSlab))
		}
		if err := d.node(dir, dirPath, depth, &slab[0]); err != nil {
			return err
		}
		slab = slab[1:]
	}
	return nil
}

// maxPresize bounds the map a child count makes before the children are
// read; nodeSlab is how many nodes one allocation holds. A node deleted
// later keeps its slab's memory (64 bytes) until its siblings go too.
const (
	maxPresize = 1 << 16
	nodeSlab   = 256
)

func (d *decoder) node(parent *node, parentPath string, depth int, n *node) error {
	flags, err := d.byte()
	if err != nil {
		return d.fail("node flags", err)
	}
	if flags&^(flagDir|flagTTL) != 0 {
		return d.fail(fmt.Sprintf("unknown node flags %#x", flags), nil)
	}
	name, err := d.str()
	if err != nil {
		return d.fail("node name", err)
	}
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 {
		return d.fail(fmt.Sprintf("invalid node name %q", name), nil)
	}
	created, err := d.uvarint()
	if err != nil {
		return d.fail("created index", err)
	}
	modified, err := d.uvarint()
	if err != nil {
		return d.fail("modified index", err)
	}
	*n = node{name: name, created: created, modified: modified, heapIdx: -1}
	if flags&flagDir != 0 {
		n.children = map[string]*node{}
	}
	if flags&flagTTL != 0 {
		b, err := d.bytes(8)
		if err != nil {
			return d.fail("expiry", err)
		}
		expire := int64(binary.LittleEndian.Uint64(b))
		n.heapIdx = int32(len(d.heap))
		d.heap = append(d.heap, ttlEntry{expire: expire, path: joinPath(parentPath, name), n: n})
	}
	before := len(parent.children)
	parent.children[name] = n
	if len(parent.children) == before {
		return d.fail(fmt.Sprintf("duplicate node name %q", name), nil)
	}
	if n.isDir() {
		return d.children(n, joinPath(parentPath, name), depth+1)
	}
	if n.value, err = d.str(); err != nil {
		return d.fail("value", err)
	}
	return nil
}

func (d *decoder) byte() (byte, error) {
	return d.r.ReadByte()
}

func (d *decoder) uvarint() (uint64, error) {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := d.byte()
		if err != nil {
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, errors.New("varint overflows 64 bits")
			}
			return x | uint64(b)<<shift, nil
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, errors.New("varint overflows 64 bits")
}

// bytes reads n bytes into a scratch buffer valid until the next read. The
// buffer grows only as data actually arrives, so a corrupt length cannot
// make Restore allocate more than the input holds.
func (d *decoder) bytes(n int) ([]byte, error) {
	const chunk = 1 << 20
	d.scratch = d.scratch[:0]
	for n > 0 {
		m := min(n, chunk)
		start := len(d.scratch)
		d.scratch = slices.Grow(d.scratch, m)[:start+m]
		if _, err := io.ReadFull(d.r, d.scratch[start:]); err != nil {
			return nil, err
		}
		n -= m
	}
	return d.scratch, nil
}

func (d *decoder) str() (string, error) {
	l, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if l > math.MaxInt32 {
		return "", fmt.Errorf("length %d too large", l)
	}
	b, err := d.bytes(int(l))
	if err != nil {
		return "", err
	}
	return string(b), nil
}
