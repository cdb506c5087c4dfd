package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/hashicorp/raft"
)

// File layout:
//
//	magic "CAIRNBAK" | version (1 byte) | payload length (8 bytes BE) | payload | SHA-256 of
//	everything before it (32 bytes)
//
// The payload is what fsm's snapshot Persist wrote.
const (
	magic     = "CAIRNBAK"
	version   = 1
	headerLen = len(magic) + 1 + 8
	sumLen    = sha256.Size
)

var (
	// ErrCorrupt: the file is not an intact Cairn backup (wrong magic, truncated, checksum
	// mismatch, or a snapshot that does not decode).
	ErrCorrupt = errors.New("backup: file is corrupt")
	// ErrVersion: the file was written by a Cairn that writes a newer backup format.
	ErrVersion = errors.New("backup: unknown backup format version")
)

// Info describes a backup.
type Info struct {
	// Index is the store's index (etcd's X-Etcd-Index) the backup holds: every write with a
	// modifiedIndex up to it, none after.
	Index uint64 `json:"index"`
	// RaftIndex is the raft index the state machine had applied.
	RaftIndex uint64 `json:"raftIndex"`
	Keys      int    `json:"keys"`
	Size      int64  `json:"size"`
	Checksum  string `json:"checksum"` // sha256, hex
}

// bufferSink adapts a buffer to the raft.SnapshotSink that Persist writes into.
type bufferSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufferSink) ID() string    { return "backup" }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufferSink) Close() error  { return nil }

var _ raft.SnapshotSink = (*bufferSink)(nil)

// Encode persists snap into a complete backup file image.
func Encode(snap raft.FSMSnapshot) ([]byte, error) {
	defer snap.Release()
	var sink bufferSink
	if err := snap.Persist(&sink); err != nil {
		return nil, fmt.Errorf("backup: persist snapshot: %w", err)
	}
	if sink.cancelled {
		return nil, errors.New("backup: snapshot persist was cancelled")
	}
	payload := sink.Bytes()
	out := make([]byte, 0, headerLen+len(payload)+sumLen)
	out = append(out, magic...)
	out = append(out, version)
	out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// Decode checks a backup file image and restores it into a new, unattached state machine.
func Decode(b []byte) (*fsm.FSM, Info, error) {
	var info Info
	if len(b) < headerLen+sumLen || string(b[:len(magic)]) != magic {
		return nil, info, fmt.Errorf("%w: not a Cairn backup", ErrCorrupt)
	}
	if v := b[len(magic)]; v != version {
		return nil, info, fmt.Errorf("%w %d (this build reads %d)", ErrVersion, v, version)
	}
	n := binary.BigEndian.Uint64(b[len(magic)+1 : headerLen])
	if n != uint64(len(b)-headerLen-sumLen) {
		return nil, info, fmt.Errorf("%w: %d payload bytes announced, %d present (truncated?)", ErrCorrupt, n, len(b)-headerLen-sumLen)
	}
	body, sum := b[:len(b)-sumLen], b[len(b)-sumLen:]
	got := sha256.Sum256(body)
	if !bytes.Equal(got[:], sum) {
		return nil, info, fmt.Errorf("%w: checksum mismatch (file sha256 %s, content %s)", ErrCorrupt,
			hex.EncodeToString(sum), hex.EncodeToString(got[:]))
	}
	f := fsm.New(store.New())
	if err := f.Restore(io.NopCloser(bytes.NewReader(body[headerLen:]))); err != nil {
		return nil, info, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	info = Info{Index: f.Store().Index(), RaftIndex: f.AppliedIndex(), Keys: countKeys(f.Store()),
		Size: int64(len(b)), Checksum: hex.EncodeToString(sum)}
	return f, info, nil
}

// countKeys counts the keys (not directories) in the store.
func countKeys(st *store.Store) int {
	ev, err := st.Get("/", true, false, time.Now())
	if err != nil || ev.Node == nil {
		return 0
	}
	n := 0
	var walk func(nodes []*store.NodeExtern)
	walk = func(nodes []*store.NodeExtern) {
		for _, c := range nodes {
			if c.Dir {
				walk(c.Nodes)
			} else {
				n++
			}
		}
	}
	walk(ev.Node.Nodes)
	return n
}
