package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/cairn-io/cairn/internal/store"
)

// A follower restores the snapshots its leader streams: FSM.Restore faces bytes from the
// network. FuzzRestore feeds it arbitrary headers and member tables, alone and followed by a
// valid store snapshot so the whole stream can be accepted. A refused stream changes nothing;
// an accepted one snapshots and restores again to the same state.
func FuzzRestore(f *testing.F) {
	src := snapshotVector(f)
	full := snapshotBytesOf(f, src.f)
	f.Add(full)
	f.Add(full[:len(snapshotMagic)+1+8+1])
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{})
	var emptyStore bytes.Buffer
	if _, err := store.New().Snapshot().WriteTo(&emptyStore); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, append(append([]byte(nil), b...), emptyStore.Bytes()...)} {
			h := newHarness(t)
			h.mustApply(Command{Type: CmdMemberSet, Member: &Member{ID: 1, Name: "before"}})
			members, applied := h.f.Members(), h.f.AppliedIndex()
			if err := h.f.Restore(io.NopCloser(bytes.NewReader(in))); err != nil {
				if !errors.Is(err, ErrBadSnapshot) && !errors.Is(err, store.ErrBadSnapshot) {
					t.Fatalf("Restore: %v, neither fsm's nor the store's ErrBadSnapshot", err)
				}
				if !reflect.DeepEqual(h.f.Members(), members) || h.f.AppliedIndex() != applied {
					t.Fatalf("a refused snapshot changed the FSM: %+v at %d", h.f.Members(), h.f.AppliedIndex())
				}
				continue
			}
			state := observed(t, h.f)
			again := newHarness(t)
			if err := again.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytesOf(t, h.f)))); err != nil {
				t.Fatalf("a restored state does not restore from its own snapshot: %v", err)
			}
			if got := observed(t, again.f); got != state {
				t.Fatalf("state changed through a snapshot:\n%s\n%s", state, got)
			}
		}
	})
}

func snapshotBytesOf(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*fsmSnapshot).writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
