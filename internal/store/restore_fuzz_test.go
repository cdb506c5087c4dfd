package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
	"testing"
)

// A follower restores snapshots the leader streams to it: Restore faces bytes from the
// network. FuzzRestore feeds it arbitrary streams, also with their checksum made right so the
// tree decoder behind it is reached. A refused stream leaves the store as it was; an accepted
// one describes a state that snapshots and restores again to the same state.
func FuzzRestore(f *testing.F) {
	f.Add(snapshotBytesOf(f, buildSample(f)))
	f.Add(snapshotBytesOf(f, New()))
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, withCRC(b)} {
			s := buildSample(t)
			before := render(t, s)
			if err := s.Restore(bytes.NewReader(in)); err != nil {
				if !errors.Is(err, ErrBadSnapshot) {
					t.Fatalf("Restore: %v, not ErrBadSnapshot", err)
				}
				if after := render(t, s); after != before {
					t.Fatalf("a refused snapshot changed the store:\n%s\n%s", before, after)
				}
				continue
			}
			state := render(t, s)
			again := New()
			if err := again.Restore(bytes.NewReader(snapshotBytesOf(t, s))); err != nil {
				t.Fatalf("a restored state does not restore from its own snapshot: %v", err)
			}
			if got := render(t, again); got != state {
				t.Fatalf("state changed through a snapshot:\n%s\n%s", state, got)
			}
		}
	})
}

// withCRC replaces b's last four bytes with the checksum of the rest.
func withCRC(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	body := append([]byte(nil), b[:len(b)-4]...)
	return binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}

// render is everything a snapshot carries: every node (hidden ones and names the API would
// refuse included) with its indexes, value and expiry, and the store's index.
func render(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var lines []string
	var walk func(path string, n *node)
	walk = func(path string, n *node) {
		line := fmt.Sprintf("%q dir=%v c=%d m=%d v=%q", path, n.isDir(), n.created, n.modified, n.value)
		if n.heapIdx >= 0 {
			line += fmt.Sprintf(" exp=%d", s.ttl[n.heapIdx].expire)
		}
		lines = append(lines, line)
		names := slices.Sorted(maps.Keys(n.children))
		for _, name := range names {
			walk(path+"/"+name, n.children[name])
		}
	}
	walk("", s.root)
	return fmt.Sprintf("index %d\n%s", s.index, strings.Join(lines, "\n"))
}
