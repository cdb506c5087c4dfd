package fsm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/store"
)

func marshalAll(cmds ...Command) [][]byte {
	out := make([][]byte, len(cmds))
	for i := range cmds {
		out[i] = cmds[i].Marshal()
	}
	return out
}

// applyEntry applies one raw entry through Apply at the harness's next index.
func (h *harness) applyEntry(data []byte) interface{} {
	h.idx++
	return h.f.Apply(&raft.Log{Index: h.idx, Type: raft.LogCommand, Data: data})
}

// batchCommands is a batch whose commands depend on one another: each sees the one before.
func batchCommands() []Command {
	return []Command{
		at(0, Command{Type: CmdPut, Key: "/a", Value: "1"}),
		at(time.Second, Command{Type: CmdPut, Key: "/a", Value: "2", PrevValue: "1"}),
		at(2*time.Second, Command{Type: CmdPut, Key: "/a", Value: "3", PrevValue: "1"}), // compare fails
		at(3*time.Second, Command{Type: CmdPost, Key: "/q", Value: "job"}),
		at(4*time.Second, Command{Type: CmdDelete, Key: "/missing"}),
		at(5*time.Second, Command{Type: CmdPut, Key: "/t", Value: "x", TTL: 10}),
	}
}

func TestBatchAppliesEachCommandInOrder(t *testing.T) {
	h := newHarness(t)
	cmds := batchCommands()
	res, ok := h.applyEntry(MarshalBatch(marshalAll(cmds...))).(*BatchResult)
	if !ok {
		t.Fatal("a batch entry did not return *BatchResult")
	}
	if res.Err != nil || len(res.Results) != len(cmds) {
		t.Fatalf("batch result: err %v, %d results for %d commands", res.Err, len(res.Results), len(cmds))
	}
	wantIndex := []uint64{1, 2, 0, 3, 0, 4} // every applied command has a store index of its own
	for i, r := range res.Results {
		switch wantIndex[i] {
		case 0:
			if r.Err == nil {
				t.Errorf("command %d: %+v, want an error", i, r.Event)
			}
		default:
			if r.Err != nil || r.Event.Index() != wantIndex[i] {
				t.Errorf("command %d: err %v, event %+v, want index %d", i, r.Err, r.Event, wantIndex[i])
			}
		}
	}
	if !errors.Is(res.Results[2].Err, store.ErrTestFailed) || !errors.Is(res.Results[4].Err, store.ErrKeyNotFound) {
		t.Errorf("errors %v, %v; want compare failed and key not found", res.Results[2].Err, res.Results[4].Err)
	}
	if v, _ := h.value("/a"); v != "2" {
		t.Errorf("/a = %q, want 2", v)
	}
	// The TTL counts from the command's own leader time, not the batch's first.
	ev, err := h.f.Store().Get("/t", false, false, t0)
	if err != nil || ev.Node.Expiration == nil || !ev.Node.Expiration.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("/t: %+v, %v; want expiry at t0+15s", ev, err)
	}
	if h.f.AppliedIndex() != h.idx {
		t.Fatalf("applied index %d after the batch entry %d", h.f.AppliedIndex(), h.idx)
	}
}

// A batch entry leaves the state that its commands as entries of their own leave, through Apply
// and through ApplyBatch (raft's batched apply, which replays a log on restart) alike.
func TestBatchEntryMatchesSingleEntries(t *testing.T) {
	single := newHarness(t)
	for _, c := range batchCommands() {
		single.apply(c)
	}
	viaApply := newHarness(t)
	viaApply.applyEntry(MarshalBatch(marshalAll(batchCommands()...)))

	viaBatch := newHarness(t)
	first := Command{Type: CmdPut, Key: "/before", Value: "b", Time: t0.UnixNano()}
	logs := []*raft.Log{
		{Index: 1, Type: raft.LogCommand, Data: first.Marshal()},
		{Index: 2, Type: raft.LogCommand, Data: MarshalBatch(marshalAll(batchCommands()...))},
	}
	out := viaBatch.f.ApplyBatch(logs)
	if br, ok := out[1].(*BatchResult); !ok || br.Err != nil || len(br.Results) != len(batchCommands()) {
		t.Fatalf("ApplyBatch answered the batch entry with %#v", out[1])
	}
	if viaBatch.f.AppliedIndex() != 2 {
		t.Fatalf("applied index %d after ApplyBatch, want 2", viaBatch.f.AppliedIndex())
	}
	if _, err := viaBatch.f.Store().Delete("/before", false, false, t0); err != nil {
		t.Fatal(err)
	}

	want := tree(t, single.f)
	if got := tree(t, viaApply.f); got != want {
		t.Errorf("batch entry through Apply:\n%s\nwant\n%s", got, want)
	}
	// viaBatch made two more store changes (/before, and its deletion): compare the keys only.
	if got, want := keys(t, viaBatch.f), keys(t, single.f); got != want {
		t.Errorf("batch entry through ApplyBatch:\n%s\nwant\n%s", got, want)
	}
}

func tree(t *testing.T, f *FSM) string {
	t.Helper()
	ev, err := f.Store().Get("/", true, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	return string(ev.AppendJSON(nil))
}

func keys(t *testing.T, f *FSM) string {
	t.Helper()
	var out bytes.Buffer
	for _, k := range []string{"/a", "/t"} {
		ev, err := f.Store().Get(k, false, false, t0)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(k + "=" + *ev.Node.Value + " ")
	}
	return out.String()
}

// A batch entry with anything wrong in it is refused whole, on every replica alike: none of its
// commands is applied, not even those before the bad one.
func TestMalformedBatchAppliesNothing(t *testing.T) {
	good := Command{Type: CmdPut, Key: "/first", Value: "v", Time: t0.UnixNano()}
	member := Command{Type: CmdMemberSet, Member: &Member{ID: 1, Name: "n1"}}
	valid := MarshalBatch(marshalAll(good, good))
	tooMany := make([][]byte, MaxBatchCommands+1)
	for i := range tooMany {
		tooMany[i] = good.Marshal()
	}
	bad := map[string][]byte{
		"short":                 {byte(CmdBatch), encodingVersion},
		"unknown version":       append([]byte{byte(CmdBatch), encodingVersion + 1}, valid[2:]...),
		"flags":                 append([]byte{byte(CmdBatch), encodingVersion, 1}, valid[3:]...),
		"no commands":           MarshalBatch(nil),
		"too many commands":     MarshalBatch(tooMany),
		"count beyond the data": append(append([]byte{}, valid[:3]...), append([]byte{3}, valid[4:]...)...),
		"trailing bytes":        append(append([]byte{}, valid...), 0),
		"truncated":             valid[:len(valid)-1],
		"length beyond":         append([]byte{byte(CmdBatch), encodingVersion, 0, 1, 0x7f}, good.Marshal()...),
		"malformed command":     MarshalBatch([][]byte{good.Marshal(), {byte(CmdPut), encodingVersion}}),
		"member command":        MarshalBatch([][]byte{good.Marshal(), member.Marshal()}),
		"noop":                  MarshalBatch(marshalAll(good, Command{Type: CmdNoop})),
		"cluster version":       MarshalBatch(marshalAll(good, *ClusterVersionCommand(LevelBatch))),
		"nested batch":          MarshalBatch([][]byte{good.Marshal(), valid}),
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			res, ok := h.applyEntry(data).(*BatchResult)
			if !ok || !errors.Is(res.Err, ErrMalformed) || res.Results != nil {
				t.Fatalf("got %#v, want a BatchResult with ErrMalformed", res)
			}
			if h.f.Store().Index() != 0 || len(h.f.Members()) != 0 {
				t.Fatalf("a refused batch changed the state: store index %d, %d members", h.f.Store().Index(), len(h.f.Members()))
			}
			if h.f.AppliedIndex() != h.idx {
				t.Fatalf("applied index %d, want %d: a refused entry is still applied", h.f.AppliedIndex(), h.idx)
			}
		})
	}
	// The valid one the cases were cut from applies.
	h := newHarness(t)
	if res := h.applyEntry(valid).(*BatchResult); res.Err != nil || len(res.Results) != 2 {
		t.Fatalf("valid batch: %+v", res)
	}
}

// A batch entry is not a command: a relayed request or any other single-command decoding that
// met one must refuse it instead of reading its bytes as a command's fields.
func TestUnmarshalRefusesBatch(t *testing.T) {
	good := Command{Type: CmdPut, Key: "/k", Value: "v"}
	if c, err := Unmarshal(MarshalBatch(marshalAll(good))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Unmarshal(batch) = %+v, %v; want ErrMalformed", c, err)
	}
	for _, c := range []Command{good, {Type: CmdPost, Key: "/q"}, {Type: CmdDelete, Key: "/k"}} {
		if !c.Batchable() {
			t.Errorf("%v is not batchable", c.Type)
		}
	}
	for _, c := range []Command{{Type: CmdExpire}, {Type: CmdNoop}, {Type: CmdAuth}, {Type: CmdClusterVersion},
		{Type: CmdMemberSet, Member: &Member{ID: 1}}, {Type: CmdPut, Key: "/k", Member: &Member{ID: 1}}} {
		if c.Batchable() {
			t.Errorf("%+v is batchable", c)
		}
	}
}

// TestBatchVector freezes the batch entry's bytes, as TestCommandVectors does the commands'.
func TestBatchVector(t *testing.T) {
	cmds := []Command{
		{Type: CmdPut, Key: "/app/color", Value: "blue", Time: 1795834800000000000},
		{Type: CmdDelete, Key: "/app/old", PrevIndex: 7, Time: 1795834800000000001},
	}
	enc := MarshalBatch(marshalAll(cmds...))
	frozen := readVector(t, "cmd-batch", enc)
	got, err := unmarshalBatch(frozen)
	if err != nil {
		t.Fatalf("today's code refuses the frozen bytes: %v", err)
	}
	if !reflect.DeepEqual(got, cmds) {
		t.Fatalf("frozen bytes decode to\n%+v\nwant\n%+v", got, cmds)
	}
	if !bytes.Equal(enc, frozen) {
		t.Fatalf("encoding changed:\nnow\n%sfrozen\n%s", hex.Dump(enc), hex.Dump(frozen))
	}
}

// FuzzBatchEntry: no entry makes Apply panic, and an entry that applies is the one encoding of
// its commands, so that replicas can never read the same bytes differently.
func FuzzBatchEntry(f *testing.F) {
	f.Add(MarshalBatch(marshalAll(batchCommands()...)))
	f.Add(MarshalBatch(marshalAll(Command{Type: CmdDelete, Key: "/d", Dir: true, Recursive: true})))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		data[0] = byte(CmdBatch)
		h := newHarness(t)
		res := h.applyEntry(data).(*BatchResult)
		if res.Err != nil {
			if h.f.Store().Index() != 0 {
				t.Fatalf("refused entry changed the store: %v", res.Err)
			}
			return
		}
		cmds, err := unmarshalBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		if again := MarshalBatch(marshalAll(cmds...)); !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes re-encode differently:\n%s\n%s", hex.Dump(data), hex.Dump(again))
		}
	})
}

// raftnode's snapshot thresholds count writes with EntryWrites.
func TestEntryWrites(t *testing.T) {
	f := New(store.New())
	good := Command{Type: CmdPut, Key: "/k", Value: "v"}
	for name, c := range map[string]struct {
		data []byte
		want uint64
	}{
		"a command":       {good.Marshal(), 1},
		"a batch of one":  {MarshalBatch(marshalAll(good)), 1},
		"a batch of many": {MarshalBatch(marshalAll(good, good, good)), 3},
		"a cut batch":     {[]byte{byte(CmdBatch), encodingVersion, 0}, 1},
		"a zero count":    {MarshalBatch(nil), 1},
	} {
		if got := f.EntryWrites(c.data); got != c.want {
			t.Errorf("%s: %d writes, want %d", name, got, c.want)
		}
	}
}
