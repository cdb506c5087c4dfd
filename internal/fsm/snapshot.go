package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/store"
)

// Snapshot stream layout (one stream, so the three parts can never disagree):
//
//	magic "CAIRNSNP" | version byte | applied index (8 bytes BE) |
//	(version 3) the cluster's level, one byte |
//	member count (uvarint) | each member: uvarint length + Member encoding |
//	(version 2 and later) uvarint length + the auth state's encoding |
//	the store's own snapshot, to the end of the stream.
//
// Version 1, written before auth existed, restores with an empty auth state. Today's build
// still writes it, with a version 1 store snapshot inside, while the cluster's level is
// LevelBaseline: a member of an earlier build may be sent the snapshot and reads nothing newer.
// Such a cluster has no auth state (a CmdAuth raises the level), so version 1 loses nothing but
// the store's event history, which watches then see as cleared. Restoring a version 2 snapshot
// sets the level to LevelAuth. Version 3, written from LevelBatch on, carries the level itself,
// so that a member restored from it keeps proposing what the cluster's level allows.
const (
	snapshotMagic   = "CAIRNSNP"
	snapshotVersion = 3
)

// snapshotFormat is the FSM snapshot version, and the store snapshot format inside it, that
// every member of a cluster at a level can read.
func snapshotFormat(l Level, as *auth.State) (byte, store.SnapshotFormat) {
	switch {
	case l < LevelAuth && as.Equal(auth.Empty()):
		return 1, store.SnapshotV1
	case l < LevelBatch:
		return 2, store.SnapshotV2
	}
	return snapshotVersion, store.SnapshotV2
}

// ErrBadSnapshot is wrapped by every Restore failure caused by the stream's content.
var ErrBadSnapshot = errors.New("fsm: bad snapshot")

type fsmSnapshot struct {
	version byte
	level   Level // written from version 3 on
	applied uint64
	members []Member
	auth    *auth.State
	store   store.Snapshot
}

// Snapshot captures the state on the apply goroutine; the returned value is
// immutable and Persist does the I/O while applies go on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	as := f.auth.Load()
	level := f.ClusterLevel()
	version, format := snapshotFormat(level, as)
	st, err := f.st.SnapshotIn(format)
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	members := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		members = append(members, m) // the map values are never mutated in place
	}
	f.mu.RUnlock()
	return &fsmSnapshot{version: version, level: level, applied: f.applied.load(), members: members, auth: as, store: st}, nil
}

// AbortSnapshots makes the snapshot being captured, and every later one,
// fail at once (store.ErrSnapshotAborted), so that a stopping node does not
// wait for a capture it will not keep.
func (f *FSM) AbortSnapshots() { f.st.AbortSnapshots() }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.writeTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	hdr := make([]byte, 0, 64)
	hdr = append(hdr, snapshotMagic...)
	hdr = append(hdr, s.version)
	hdr = binary.BigEndian.AppendUint64(hdr, s.applied)
	if s.version >= 3 {
		hdr = append(hdr, byte(s.level))
	}
	hdr = binary.AppendUvarint(hdr, uint64(len(s.members)))
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	for i := range s.members {
		enc := s.members[i].appendTo(nil)
		if _, err := bw.Write(binary.AppendUvarint(nil, uint64(len(enc)))); err != nil {
			return err
		}
		if _, err := bw.Write(enc); err != nil {
			return err
		}
	}
	if s.version >= 2 {
		var ab bytes.Buffer
		if err := s.auth.Encode(&ab); err != nil {
			return err
		}
		if _, err := bw.Write(binary.AppendUvarint(nil, uint64(ab.Len()))); err != nil {
			return err
		}
		if _, err := bw.Write(ab.Bytes()); err != nil {
			return err
		}
	}
	if _, err := s.store.WriteTo(bw); err != nil {
		return err
	}
	return bw.Flush()
}

func (s *fsmSnapshot) Release() {}

// restore parses the header and members, then hands the rest of the stream
// to the store. State is replaced only by the store; the caller swaps the
// member table and index after success.
func (f *FSM) restore(r io.Reader) (uint64, map[uint64]Member, *auth.State, Level, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, len(snapshotMagic)+1+8)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return 0, nil, nil, 0, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return 0, nil, nil, 0, fmt.Errorf("%w: not a cairn snapshot", ErrBadSnapshot)
	}
	version := hdr[len(snapshotMagic)]
	if version < 1 || version > snapshotVersion {
		return 0, nil, nil, 0, fmt.Errorf("%w: unknown version %d", ErrBadSnapshot, version)
	}
	applied := binary.BigEndian.Uint64(hdr[len(snapshotMagic)+1:])
	level := LevelBaseline
	switch {
	case version >= 3:
		b, err := br.ReadByte()
		if err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: level: %v", ErrBadSnapshot, err)
		}
		// A version 3 snapshot is written only from LevelBatch on; a level this build does not
		// know would make it propose what it cannot promise the others apply.
		if level = Level(b); level < LevelBatch || level > CurrentLevel {
			return 0, nil, nil, 0, fmt.Errorf("%w: cluster level %d", ErrBadSnapshot, b)
		}
	case version == 2:
		level = LevelAuth
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, nil, 0, fmt.Errorf("%w: member count: %v", ErrBadSnapshot, err)
	}
	members := make(map[uint64]Member)
	for i := uint64(0); i < n; i++ {
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: member %d: %v", ErrBadSnapshot, i, err)
		}
		if size > maxMemberSize {
			return 0, nil, nil, 0, fmt.Errorf("%w: member %d of %d bytes", ErrBadSnapshot, i, size)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: member %d: %v", ErrBadSnapshot, i, err)
		}
		d := decoder{b: buf}
		m := d.member()
		if d.err == nil && len(d.b) != 0 {
			d.err = fmt.Errorf("%d trailing bytes", len(d.b))
		}
		if d.err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: member %d: %v", ErrBadSnapshot, i, d.err)
		}
		members[m.ID] = *m
	}
	as := auth.Empty()
	if version >= 2 {
		size, err := binary.ReadUvarint(br)
		if err != nil || size > maxAuthSize {
			return 0, nil, nil, 0, fmt.Errorf("%w: auth state length", ErrBadSnapshot)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: auth state: %v", ErrBadSnapshot, err)
		}
		if as, err = auth.Decode(bytes.NewReader(buf)); err != nil {
			return 0, nil, nil, 0, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
	}
	if err := f.st.Restore(br); err != nil {
		return 0, nil, nil, 0, fmt.Errorf("fsm: restore store: %w", err)
	}
	return applied, members, as, level, nil
}

// maxMemberSize bounds one member record so a corrupt length cannot make
// Restore allocate gigabytes.
const maxMemberSize = 1 << 20

// maxAuthSize bounds the auth state likewise; a million users fit.
const maxAuthSize = 1 << 30
