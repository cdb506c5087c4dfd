package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

func snapshotBytesOf(t testing.TB, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := s.Snapshot().WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v (buffer %d)", n, err, buf.Len())
	}
	return buf.Bytes()
}

func buildSample(t testing.TB) *Store {
	s := New()
	mustSet(t, s, "/a", "1")
	mustSet(t, s, "/dir/b", "")
	mustSet(t, s, "/dir/_hidden", "h")
	s.Set("/dir/sub", true, "", ttlAt(30*time.Second), t0)
	s.Set("/dir/sub/t", false, "ttl", ttlAt(10*time.Second), t0)
	s.Set("/ünï/ключ", false, string([]byte{0, 1, 2, 255}), TTLOptions{}, t0)
	s.Create("/q", false, "job", true, TTLOptions{}, t0)
	s.Update("/a", "2", TTLOptions{}, t0)
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := buildSample(t)
	snap := src.Snapshot()

	// The snapshot is immutable: later applies do not leak into it.
	mustSet(t, src, "/later", "x")
	src.Delete("/dir", true, true, t0)
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}

	want := buildSample(t)
	dst := New()
	w := mustWatch(t, dst, "/a", false, true, 0)
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, w)
	if dst.WatcherCount() != 0 {
		t.Fatal("watchers survived a restore")
	}
	if dst.Index() != want.Index() {
		t.Fatalf("index %d; want %d", dst.Index(), want.Index())
	}
	for _, k := range []string{"/", "/dir/_hidden"} {
		g, _ := dst.Get(k, true, true, at(time.Second))
		w, _ := want.Get(k, true, true, at(time.Second))
		if mustJSON(t, g) != mustJSON(t, w) {
			t.Fatalf("restored %s\n got %s\nwant %s", k, mustJSON(t, g), mustJSON(t, w))
		}
	}
	// TTLs are absolute: they expire at the same time and order as before.
	next, ok := dst.NextExpiration()
	if !ok || !next.Equal(at(10*time.Second)) {
		t.Fatalf("NextExpiration %v %v", next, ok)
	}
	got := keysOf(dst.DeleteExpiredKeys(at(time.Minute)))
	if fmt.Sprint(got) != fmt.Sprint(keysOf(want.DeleteExpiredKeys(at(time.Minute)))) || len(got) != 2 {
		t.Fatalf("expired after restore: %v", got)
	}
	// New writes continue from the restored index, and the restored node
	// indexes hold (CAS by index).
	if _, err := dst.CompareAndSwap("/a", "", 8, "3", TTLOptions{}, t0); err != nil {
		t.Fatal(err)
	}
	// A snapshot of the restored store restores to the same thing again.
	again := New()
	if err := again.Restore(bytes.NewReader(snapshotBytesOf(t, dst))); err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, getAll(t, again)) != mustJSON(t, getAll(t, dst)) || again.Index() != dst.Index() {
		t.Fatal("second round trip differs")
	}
}

// historyOf renders every event a recursive watch of / replays from index 1,
// or the error.
func historyOf(t *testing.T, s *Store) string {
	t.Helper()
	w, err := s.Watch("/", true, true, 1)
	if err != nil {
		return err.Error()
	}
	defer w.Remove()
	var out []byte
	for {
		select {
		case e := <-w.EventChan():
			out = e.AppendJSON(out)
			out = append(out, '\n')
		default:
			return string(out)
		}
	}
}

func TestRestoreKeepsHistory(t *testing.T) {
	src := New()
	for i := 0; i < 5; i++ {
		mustSet(t, src, "/k", fmt.Sprint("v", i))
	}
	// Every kind of event, so each field of the encoding is exercised.
	src.Set("/dir/t", false, "ttl", ttlAt(10*time.Second), t0)
	src.Update("/dir/t", "", TTLOptions{ExpireTime: at(20 * time.Second), Refresh: true}, t0)
	src.Update("/dir", "", ttlAt(30*time.Second), t0)
	src.Create("/q", false, "job", true, TTLOptions{}, t0)
	src.CompareAndSwap("/k", "v4", 0, "cas", TTLOptions{}, t0)
	src.CompareAndDelete("/k", "cas", 0, t0)
	src.Set("/gone/a", false, "x", TTLOptions{}, t0)
	src.Delete("/gone", true, true, t0)
	src.Set("/e", false, "x", ttlAt(time.Second), t0)
	src.DeleteExpiredKeys(at(2 * time.Second))
	dst := New()
	for i := 0; i < 3; i++ {
		mustSet(t, dst, "/other", "v")
	}
	w := mustWatch(t, dst, "/other", false, true, 0)
	if err := dst.Restore(bytes.NewReader(snapshotBytesOf(t, src))); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, w)
	if got, want := historyOf(t, dst), historyOf(t, src); got != want || want == "" {
		t.Fatalf("history after restore:\n%s\nwant:\n%s", got, want)
	}
	// A watch from an index inside the history is answered from it, exactly
	// as by the store that wrote the snapshot.
	for since := uint64(1); since <= src.Index(); since++ {
		a, b := mustWatch(t, src, "/k", false, false, since), mustWatch(t, dst, "/k", false, false, since)
		ea, eb := pending(a), pending(b)
		if (ea == nil) != (eb == nil) || ea != nil && string(ea.AppendJSON(nil)) != string(eb.AppendJSON(nil)) {
			t.Fatalf("watch since %d: restored %v, original %v", since, eb, ea)
		}
		a.Remove()
		b.Remove()
	}
	// New events continue the ring.
	next := dst.Index() + 1
	w = mustWatch(t, dst, "/k", false, false, next)
	mustSet(t, dst, "/k", "new")
	if e := recv(t, w); e.Index() != next {
		t.Fatalf("got %d, want %d", e.Index(), next)
	}
	if _, err := dst.Get("/other", false, false, t0); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("old tree survived: %v", err)
	}
}

func pending(w *Watcher) *Event {
	select {
	case e := <-w.EventChan():
		return e
	default:
		return nil
	}
}

func TestRestoreKeepsOnlyTheLastEvents(t *testing.T) {
	src := New()
	for i := 0; i < historySize+250; i++ {
		mustSet(t, src, fmt.Sprint("/k", i%7), "v")
	}
	dst := New()
	if err := dst.Restore(bytes.NewReader(snapshotBytesOf(t, src))); err != nil {
		t.Fatal(err)
	}
	_, err := dst.Watch("/k0", false, false, 250)
	wantErr(t, err, ErrEventIndexCleared, "the requested history has been cleared [251/250]", uint64(historySize+250))
	if e := pending(mustWatch(t, dst, "/k0", false, false, 251)); e == nil || e.Index() != 253 {
		t.Fatalf("watch since 251 got %v, want the event at 253", e)
	}
}

// A version 1 snapshot (no history section) still restores; its history
// starts empty, so an older waitIndex is told the history was cleared. The
// snapshot is SnapshotIn's version 1, which must restore as one.
func TestRestoreVersion1(t *testing.T) {
	src := buildSample(t)
	snap, err := src.SnapshotIn(SnapshotV1)
	if err != nil {
		t.Fatal(err)
	}
	var written bytes.Buffer
	if _, err := snap.WriteTo(&written); err != nil {
		t.Fatal(err)
	}
	v1 := written.Bytes()
	if !bytes.HasPrefix(v1, []byte(snapshotMagicV1)) {
		t.Fatalf("SnapshotIn(SnapshotV1) starts %q", v1[:len(snapshotMagicV1)])
	}
	if _, err := src.SnapshotIn(3); err == nil {
		t.Fatal("an unknown snapshot format was written")
	}
	dst := New()
	if err := dst.Restore(bytes.NewReader(v1)); err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, getAll(t, dst)) != mustJSON(t, getAll(t, src)) || dst.Index() != src.Index() {
		t.Fatal("version 1 restore differs")
	}
	_, err = dst.Watch("/a", false, false, 5)
	wantErr(t, err, ErrEventIndexCleared, fmt.Sprintf("the requested history has been cleared [%d/5]", src.Index()+1), src.Index())
}

func TestRestoreRejectsBadInput(t *testing.T) {
	good := snapshotBytesOf(t, buildSample(t))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	cases := map[string][]byte{
		"empty":           nil,
		"wrong magic":     append([]byte("NOTCAIRN"), good[8:]...),
		"truncated":       good[:len(good)/2],
		"no checksum":     good[:len(good)-4],
		"flipped byte":    flip(len(good) / 2),
		"bad checksum":    flip(len(good) - 1),
		"trailing bytes":  append(bytes.Clone(good), 0),
		"huge length":     append([]byte(snapshotMagic), 1, 1, flagDir, 0xff, 0xff, 0xff, 0xff, 0x07),
		"v1 with history": reseal(append([]byte(snapshotMagicV1), good[8:len(good)-4]...)),
		"history gap":     reseal(gappedHistory(t)),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			s := New()
			mustSet(t, s, "/keep", "me")
			w := mustWatch(t, s, "/keep", false, false, 0)
			err := s.Restore(bytes.NewReader(in))
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore = %v; want ErrBadSnapshot", err)
			}
			if _, err := s.Get("/keep", false, false, t0); err != nil || s.Index() != 1 || s.WatcherCount() != 1 {
				t.Fatalf("failed restore changed the store: %v index %d watchers %d", err, s.Index(), s.WatcherCount())
			}
			w.Remove()
		})
	}
}

func TestSnapshotEmptyStore(t *testing.T) {
	s := New()
	if err := s.Restore(bytes.NewReader(snapshotBytesOf(t, New()))); err != nil {
		t.Fatal(err)
	}
	if s.Index() != 0 {
		t.Fatal(s.Index())
	}
}

func reseal(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// gappedHistory is a version 2 snapshot, checksum still to add, of a store
// at index 3 whose history holds the event at 2 twice instead of 2 and 3.
func gappedHistory(t *testing.T) []byte {
	s := New()
	mustSet(t, s, "/a", "1")
	e2 := mustSet(t, s, "/a", "2")
	b := []byte(snapshotMagic)
	b = binary.AppendUvarint(b, 3)
	b = binary.AppendUvarint(b, 0) // empty tree
	b = binary.AppendUvarint(b, 2)
	b = appendEvent(b, e2)
	return appendEvent(b, e2)
}

// sealed wraps a hand-made body in the header and a valid checksum, so the
// structural checks (not the CRC) are what must reject it.
func sealed(body ...[]byte) []byte {
	b := []byte(snapshotMagicV1)
	b = append(b, 7) // index
	for _, p := range body {
		b = append(b, p...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func fileNode(name string) []byte {
	b := []byte{0, byte(len(name))}
	b = append(b, name...)
	return append(b, 1, 1, 1, 'v') // created, modified, value "v"
}

func TestRestoreStructuralChecks(t *testing.T) {
	deep := []byte{1}
	for i := 0; i <= maxDepth+1; i++ {
		deep = append(deep, flagDir, 1, 'a', 0, 0, 1)
	}
	cases := map[string][]byte{
		"unknown flags":   sealed([]byte{1, 0x80, 1, 'a', 1, 1, 0}),
		"empty name":      sealed([]byte{1}, fileNode("")),
		"dot name":        sealed([]byte{1}, fileNode("..")),
		"slash in name":   sealed([]byte{1}, fileNode("a/b")),
		"duplicate name":  sealed([]byte{2}, fileNode("a"), fileNode("a")),
		"varint overflow": sealed([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
		"too deep":        sealed(deep),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			err := New().Restore(bytes.NewReader(in))
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore = %v; want ErrBadSnapshot", err)
			}
		})
	}
	// The same framing with a well-formed body is accepted.
	s := New()
	if err := s.Restore(bytes.NewReader(sealed([]byte{2}, fileNode("a"), fileNode("b")))); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("/", true, true, t0)
	wantEvent(t, e, err, `{"action":"get","node":{"dir":true,"nodes":[{"key":"/a","value":"v","modifiedIndex":1,"createdIndex":1},{"key":"/b","value":"v","modifiedIndex":1,"createdIndex":1}]}}`)
	if s.Index() != 7 {
		t.Fatal(s.Index())
	}
}

// The checksum is computed on the bytes as they arrive, holding back the
// last four; it must not depend on how the reader splits the stream.
func TestRestoreAnyReadSizes(t *testing.T) {
	good := snapshotBytesOf(t, buildSample(t))
	bad := bytes.Clone(good)
	bad[len(bad)/3] ^= 1
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data with EOF": iotest.DataErrReader,
	} {
		if err := New().Restore(wrap(bytes.NewReader(good))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := New().Restore(wrap(bytes.NewReader(bad))); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: a flipped bit restored: %v", name, err)
		}
	}
}

func TestAbortSnapshots(t *testing.T) {
	s := New()
	for i := 0; i < 3*abortCheckNodes; i++ {
		mustSet(t, s, fmt.Sprintf("/d%d/k%d", i%3, i), "v")
	}
	if _, err := s.SnapshotAbortable(); err != nil {
		t.Fatal(err)
	}
	s.AbortSnapshots()
	if _, err := s.SnapshotAbortable(); !errors.Is(err, ErrSnapshotAborted) {
		t.Fatalf("SnapshotAbortable after AbortSnapshots: %v", err)
	}
	if _, err := s.Snapshot().WriteTo(io.Discard); !errors.Is(err, ErrSnapshotAborted) {
		t.Fatalf("Snapshot().WriteTo after AbortSnapshots: %v", err)
	}
	// The encoder looks at the flag every abortCheckNodes nodes, so it stops
	// part way through a tree three times that size (each level's loop counts
	// once more on the way out).
	e := &encoder{h: s.ttl, abort: &s.snapshotsAborted}
	e.children(s.root)
	if !e.aborted || len(e.buf) == 0 || e.n > abortCheckNodes+2 {
		t.Fatalf("encoder: aborted %v after %d nodes, %d bytes", e.aborted, e.n, len(e.buf))
	}
}
