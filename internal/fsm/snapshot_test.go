package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/store"
)

// workload is a deterministic mix of every command type.
func workload(n int) []Command {
	var cmds []Command
	for i := range n {
		d := time.Duration(i) * 100 * time.Millisecond
		key := fmt.Sprintf("/w/%d", i%17)
		switch i % 9 {
		case 0:
			cmds = append(cmds, at(d, Command{Type: CmdPut, Key: key, Value: fmt.Sprint(i), TTL: int64(i%4 + 1)}))
		case 1:
			cmds = append(cmds, at(d, Command{Type: CmdPut, Key: key, Value: fmt.Sprint(i)}))
		case 2:
			cmds = append(cmds, at(d, Command{Type: CmdPost, Key: "/queue", Value: fmt.Sprint(i)}))
		case 3:
			cmds = append(cmds, at(d, Command{Type: CmdDelete, Key: key}))
		case 4:
			cmds = append(cmds, at(d, Command{Type: CmdExpire}))
		case 5:
			cmds = append(cmds, at(d, Command{Type: CmdPut, Key: key, Value: "cas", PrevValue: fmt.Sprint(i - 4)}))
		case 6:
			cmds = append(cmds, Command{Type: CmdMemberSet, Member: &Member{ID: uint64(i % 5), Name: fmt.Sprint("m", i), PeerURLs: []string{fmt.Sprint("http://h", i)}}})
		case 7:
			cmds = append(cmds, Command{Type: CmdMemberRemove, Member: &Member{ID: uint64(i % 3)}})
		case 8:
			cmds = append(cmds, at(d, Command{Type: CmdPut, Key: "/_hidden/" + key, Dir: i%2 == 0, TTL: 2}))
		}
	}
	return cmds
}

// state renders everything observable for comparison.
func state(t *testing.T, h *harness) string {
	t.Helper()
	ev, err := h.f.Store().Get("/", true, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	hidden, _ := h.f.Store().Get("/_hidden", true, true, t0)
	next, ok := h.f.Store().NextExpiration()
	b, err := json.Marshal(struct {
		Tree, Hidden *store.NodeExtern
		Index        uint64
		Applied      uint64
		Members      []Member
		Next         time.Time
		HasNext      bool
	}{ev.Node, nodeOf(hidden), h.f.Store().Index(), h.f.AppliedIndex(), h.f.Members(), next, ok})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func nodeOf(ev *store.Event) *store.NodeExtern {
	if ev == nil {
		return nil
	}
	return ev.Node
}

func persist(t *testing.T, f *FSM) (*raft.InmemSnapshotStore, string) {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ss := raft.NewInmemSnapshotStore()
	sink, err := ss.Create(raft.SnapshotVersionMax, f.AppliedIndex(), 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	return ss, sink.ID()
}

func TestSnapshotRestoreMidway(t *testing.T) {
	cmds := workload(400)
	a, b := newHarness(t), newHarness(t)
	const cut = 230
	for _, c := range cmds[:cut] {
		a.apply(c)
	}
	snap, err := a.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Applies continue while the snapshot is written: Persist must see the
	// state at Snapshot time only.
	a.apply(cmds[cut])
	ss := raft.NewInmemSnapshotStore()
	sink, err := ss.Create(raft.SnapshotVersionMax, cut, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	_, rc, err := ss.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if b.f.AppliedIndex() != cut {
		t.Fatalf("restored applied index %d, want %d", b.f.AppliedIndex(), cut)
	}
	b.idx = cut
	for _, c := range cmds[cut:] {
		b.apply(c)
	}
	for _, c := range cmds[cut+1:] {
		a.apply(c)
	}
	if sa, sb := state(t, a), state(t, b); sa != sb {
		t.Fatalf("states differ after restore:\nA %s\nB %s", sa, sb)
	}
}

func TestRestoreWakesWaitersAndReplacesMembers(t *testing.T) {
	a := newHarness(t)
	for range 10 {
		a.mustApply(Command{Type: CmdMemberSet, Member: &Member{ID: 1, Name: "a", QuorumPort: 2381}})
	}
	ss, id := persist(t, a.f)

	b := newHarness(t)
	b.mustApply(Command{Type: CmdMemberSet, Member: &Member{ID: 9, Name: "stale"}})
	done := make(chan error, 1)
	go func() { done <- b.f.WaitApplied(t.Context(), 10) }()
	deadline := time.Now().Add(10 * time.Second)
	for b.f.applied.waiting.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("WaitApplied never registered its waiter")
		}
		time.Sleep(time.Millisecond)
	}
	_, rc, err := ss.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := b.f.Members(); len(got) != 1 || got[0].Name != "a" || got[0].QuorumPort != 2381 {
		t.Fatalf("members after restore %+v", got)
	}
}

func TestRestoreRejectsBadStreams(t *testing.T) {
	a := newHarness(t)
	a.mustApply(Command{Type: CmdPut, Key: "/k", Value: "v"})
	a.mustApply(Command{Type: CmdMemberSet, Member: &Member{ID: 1, Name: "a"}})
	good := snapshotBytes(t, a.f)
	bad := map[string][]byte{
		"empty":          nil,
		"bad magic":      append([]byte("XAIRNSNP"), good[8:]...),
		"future version": append(append([]byte(snapshotMagic), snapshotVersion+1), good[9:]...),
		"short header":   good[:12],
		"member cut":     good[:20],
		"huge member":    append(append([]byte{}, good[:17]...), 1, 0xff, 0xff, 0xff, 0x7f),
	}
	// A version 3 snapshot names a level from LevelBatch to this build's.
	a.mustApply(*ClusterVersionCommand(LevelBatch))
	v3 := snapshotBytes(t, a.f)
	if v3[len(snapshotMagic)] != 3 || Level(v3[17]) != LevelBatch {
		t.Fatalf("snapshot at level %v: version %d, level byte %d", a.f.ClusterLevel(), v3[len(snapshotMagic)], v3[17])
	}
	withLevel := func(l byte) []byte { b := append([]byte{}, v3...); b[17] = l; return b }
	bad["v3 at the auth level"] = withLevel(byte(LevelAuth))
	bad["v3 above this build"] = withLevel(byte(CurrentLevel + 1))
	bad["v3 without its level"] = v3[:17]
	for name, data := range bad {
		b := newHarness(t)
		err := b.f.Restore(io.NopCloser(bytes.NewReader(data)))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err %v, want ErrBadSnapshot", name, err)
		}
	}
	// A stream whose store part is corrupt fails too (the store's error).
	b := newHarness(t)
	if err := b.f.Restore(io.NopCloser(bytes.NewReader(good[:len(good)-3]))); err == nil {
		t.Error("truncated store section restored without error")
	}
	// The intact stream restores.
	if err := b.f.Restore(io.NopCloser(bytes.NewReader(good))); err != nil {
		t.Fatal(err)
	}
	if v, ok := b.value("/k"); !ok || v != "v" {
		t.Fatalf("/k = %q %v", v, ok)
	}
}

func BenchmarkApplyPut(b *testing.B) {
	f := New(store.New())
	data := make([][]byte, 1024)
	for i := range data {
		data[i] = (&Command{Type: CmdPut, Key: fmt.Sprintf("/bench/k%d", i), Value: "value", Time: t0.UnixNano()}).Marshal()
	}
	b.ReportAllocs()
	var idx uint64
	for b.Loop() {
		idx++
		f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data[idx%1024]})
	}
}

// testdata/snapshot-v1.bin was written by the build before the store kept its
// event history in snapshots (commit 3c407bf), from workload(300);
// snapshot-v1.state.json is that FSM's state. A member upgraded over such a
// snapshot must restore it to the same state.
func TestRestoreSnapshotOfEarlierBuild(t *testing.T) {
	old, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/snapshot-v1.state.json")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	if err := h.f.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	if got := state(t, h); got != string(want) {
		t.Fatalf("restored state:\n%s\nwant:\n%s", got, want)
	}
	// The same commands applied by this build reach the same state.
	fresh := newHarness(t)
	for _, c := range workload(300) {
		fresh.apply(c)
	}
	if got := state(t, fresh); got != string(want) {
		t.Fatalf("this build's state differs from the earlier build's:\n%s\nwant:\n%s", got, want)
	}
	// The earlier format carried no history: a watch older than the snapshot
	// is told so, one at the next index is answered.
	idx := h.f.Store().Index()
	if _, err := h.f.Store().Watch("/", true, false, idx); !errors.Is(err, store.ErrEventIndexCleared) {
		t.Fatalf("watch at %d after a v1 restore: %v", idx, err)
	}
	// Applying on top continues from the snapshot's index.
	h.idx = h.f.AppliedIndex()
	r := h.mustApply(at(0, Command{Type: CmdPut, Key: "/after", Value: "x"}))
	if r.Event.Index() != idx+1 {
		t.Fatalf("first event after restore at %d, want %d", r.Event.Index(), idx+1)
	}
}
