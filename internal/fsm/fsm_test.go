package fsm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/store"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// at stamps a command with the leader time t0+d.
func at(d time.Duration, c Command) Command {
	c.Time = t0.Add(d).UnixNano()
	return c
}

type harness struct {
	t   testing.TB
	f   *FSM
	idx uint64
}

func newHarness(t testing.TB) *harness { return &harness{t: t, f: New(store.New())} }

func (h *harness) apply(c Command) *Result {
	h.t.Helper()
	h.idx++
	r, ok := h.f.Apply(&raft.Log{Index: h.idx, Type: raft.LogCommand, Data: c.Marshal()}).(*Result)
	if !ok {
		h.t.Fatalf("Apply did not return *Result")
	}
	return r
}

func (h *harness) mustApply(c Command) *Result {
	h.t.Helper()
	r := h.apply(c)
	if r.Err != nil {
		h.t.Fatalf("%+v: %v", c, r.Err)
	}
	return r
}

func (h *harness) value(key string) (string, bool) {
	ev, err := h.f.Store().Get(key, false, false, t0)
	if err != nil {
		return "", false
	}
	if ev.Node.Value == nil {
		return "", true
	}
	return *ev.Node.Value, true
}

func TestApplyDispatch(t *testing.T) {
	put := func(key, value string) Command { return Command{Type: CmdPut, Key: key, Value: value} }
	cases := []struct {
		name    string
		setup   []Command
		cmd     Command
		action  string
		err     error
		key     string // checked after the command when set
		value   string
		present bool
	}{
		{name: "set new", cmd: put("/a", "1"), action: store.Set, key: "/a", value: "1", present: true},
		{name: "set over", setup: []Command{put("/a", "1")}, cmd: put("/a", "2"), action: store.Set, key: "/a", value: "2", present: true},
		{name: "set dir", cmd: Command{Type: CmdPut, Key: "/d", Dir: true}, action: store.Set},
		{name: "create", cmd: Command{Type: CmdPut, Key: "/a", Value: "1", PrevExist: boolp(false)}, action: store.Create, key: "/a", value: "1", present: true},
		{name: "create exists", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevExist: boolp(false)}, err: store.ErrNodeExist, key: "/a", value: "1", present: true},
		{name: "update", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevExist: boolp(true)}, action: store.Update, key: "/a", value: "2", present: true},
		{name: "update missing", cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevExist: boolp(true)}, err: store.ErrKeyNotFound, key: "/a"},
		{name: "cas by value with prevExist", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevValue: "1", PrevExist: boolp(true)}, action: store.CompareAndSwap, key: "/a", value: "2", present: true},
		{name: "cas by value", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevValue: "1"}, action: store.CompareAndSwap, key: "/a", value: "2", present: true},
		{name: "cas value mismatch", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevValue: "x"}, err: store.ErrTestFailed, key: "/a", value: "1", present: true},
		{name: "cas by index", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevIndex: 1}, action: store.CompareAndSwap, key: "/a", value: "2", present: true},
		{name: "cas index mismatch", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevIndex: 9}, err: store.ErrTestFailed, key: "/a", value: "1", present: true},
		{name: "cas missing", cmd: Command{Type: CmdPut, Key: "/a", Value: "2", PrevValue: "1"}, err: store.ErrKeyNotFound},
		{name: "post", setup: []Command{{Type: CmdPut, Key: "/q", Dir: true}}, cmd: Command{Type: CmdPost, Key: "/q", Value: "job"}, action: store.Create},
		{name: "delete", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdDelete, Key: "/a"}, action: store.Delete, key: "/a"},
		{name: "delete missing", cmd: Command{Type: CmdDelete, Key: "/a"}, err: store.ErrKeyNotFound},
		{name: "delete dir not recursive", setup: []Command{put("/d/x", "1")}, cmd: Command{Type: CmdDelete, Key: "/d", Dir: true}, err: store.ErrDirNotEmpty, key: "/d/x", value: "1", present: true},
		{name: "delete dir recursive", setup: []Command{put("/d/x", "1")}, cmd: Command{Type: CmdDelete, Key: "/d", Dir: true, Recursive: true}, action: store.Delete, key: "/d/x"},
		{name: "cad by value", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdDelete, Key: "/a", PrevValue: "1"}, action: store.CompareAndDelete, key: "/a"},
		{name: "cad value mismatch", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdDelete, Key: "/a", PrevValue: "2"}, err: store.ErrTestFailed, key: "/a", value: "1", present: true},
		{name: "cad by index", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdDelete, Key: "/a", PrevIndex: 1}, action: store.CompareAndDelete, key: "/a"},
		{name: "cad index mismatch", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdDelete, Key: "/a", PrevIndex: 7}, err: store.ErrTestFailed, key: "/a", value: "1", present: true},
		{name: "invalid key", cmd: put("/a/../b", "1"), err: store.ErrInvalidKey},
		{name: "root read only", cmd: Command{Type: CmdDelete, Key: "/", Dir: true, Recursive: true}, err: store.ErrRootReadOnly},
		{name: "noop", setup: []Command{put("/a", "1")}, cmd: Command{Type: CmdNoop}, key: "/a", value: "1", present: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for _, c := range tc.setup {
				h.mustApply(c)
			}
			r := h.apply(tc.cmd)
			if tc.err != nil {
				if !errors.Is(r.Err, tc.err) {
					t.Fatalf("err %v, want %v", r.Err, tc.err)
				}
				var se *store.Error
				if !errors.As(r.Err, &se) {
					t.Fatalf("err %T is not a *store.Error", r.Err)
				}
			} else if r.Err != nil {
				t.Fatalf("unexpected err %v", r.Err)
			}
			if tc.action != "" && (r.Event == nil || r.Event.Action != tc.action) {
				t.Fatalf("event %+v, want action %s", r.Event, tc.action)
			}
			if tc.key != "" {
				v, ok := h.value(tc.key)
				if ok != tc.present || v != tc.value {
					t.Fatalf("%s = %q,%v; want %q,%v", tc.key, v, ok, tc.value, tc.present)
				}
			}
			if h.f.AppliedIndex() != h.idx {
				t.Fatalf("applied %d, want %d", h.f.AppliedIndex(), h.idx)
			}
		})
	}
}

// TTLs are anchored to the leader's time in the entry: the expiry instant is
// Time+TTL, whatever the replica's clock, and only CmdExpire removes keys.
func TestTTLAndExpire(t *testing.T) {
	h := newHarness(t)
	h.mustApply(at(0, Command{Type: CmdPut, Key: "/k", Value: "v", TTL: 5}))
	h.mustApply(at(time.Second, Command{Type: CmdPut, Key: "/d", Dir: true, TTL: 10}))
	h.mustApply(at(0, Command{Type: CmdPut, Key: "/perm", Value: "p"}))

	ev, err := h.f.Store().Get("/k", false, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Node.Expiration == nil || !ev.Node.Expiration.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("expiration %v, want %v", ev.Node.Expiration, t0.Add(5*time.Second))
	}
	if next, ok := h.f.Store().NextExpiration(); !ok || !next.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("next expiration %v %v", next, ok)
	}

	h.mustApply(at(4999*time.Millisecond, Command{Type: CmdExpire}))
	if _, ok := h.value("/k"); !ok {
		t.Fatal("/k expired before Time+TTL")
	}
	h.mustApply(at(5*time.Second, Command{Type: CmdExpire}))
	if _, ok := h.value("/k"); ok {
		t.Fatal("/k not expired at Time+TTL")
	}
	if _, ok := h.value("/d"); !ok {
		t.Fatal("/d expired early")
	}

	// Refresh renews from the refreshing entry's time without changing the value.
	h.mustApply(at(6*time.Second, Command{Type: CmdPut, Key: "/d", Dir: true, PrevExist: boolp(true), Refresh: true, TTL: 10}))
	h.mustApply(at(11*time.Second, Command{Type: CmdExpire}))
	if _, ok := h.value("/d"); !ok {
		t.Fatal("/d expired despite refresh")
	}
	h.mustApply(at(16*time.Second, Command{Type: CmdExpire}))
	if _, ok := h.value("/d"); ok {
		t.Fatal("/d not expired 10s after refresh")
	}
	if _, ok := h.value("/perm"); !ok {
		t.Fatal("permanent key expired")
	}

	// A clear (TTL 0) makes a key permanent again.
	h.mustApply(at(20*time.Second, Command{Type: CmdPut, Key: "/k2", Value: "v", TTL: 1}))
	h.mustApply(at(20*time.Second, Command{Type: CmdPut, Key: "/k2", Value: "v", PrevExist: boolp(true)}))
	h.mustApply(at(time.Hour, Command{Type: CmdExpire}))
	if _, ok := h.value("/k2"); !ok {
		t.Fatal("/k2 expired after its TTL was cleared")
	}
}

func TestHugeTTLSaturates(t *testing.T) {
	h := newHarness(t)
	h.mustApply(at(0, Command{Type: CmdPut, Key: "/k", Value: "v", TTL: 1 << 62}))
	h.mustApply(at(100*365*24*time.Hour, Command{Type: CmdExpire}))
	if _, ok := h.value("/k"); !ok {
		t.Fatal("an overflowing TTL wrapped into the past and expired the key")
	}
}

func TestMembers(t *testing.T) {
	h := newHarness(t)
	m1 := Member{ID: 0xa, Name: "n1", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}}
	m2 := Member{ID: 0x2, Name: "n2", PeerURLs: []string{"http://127.0.0.2:2380"}, Learner: true}
	h.mustApply(Command{Type: CmdMemberSet, Member: &m1})
	h.mustApply(Command{Type: CmdMemberSet, Member: &m2})
	if got := h.f.Members(); !reflect.DeepEqual(got, []Member{m2, m1}) {
		t.Fatalf("members %+v", got)
	}
	// Promote: set replaces the whole record.
	m2.Learner = false
	m2.ClientURLs = []string{"http://127.0.0.2:2379"}
	h.mustApply(Command{Type: CmdMemberSet, Member: &m2})
	if got, ok := h.f.Member(2); !ok || !reflect.DeepEqual(got, m2) {
		t.Fatalf("member 2 = %+v %v", got, ok)
	}
	// Callers get copies: mutating one leaves the table alone.
	got := h.f.Members()
	got[0].PeerURLs[0] = "mutated"
	if m, _ := h.f.Member(2); m.PeerURLs[0] != "http://127.0.0.2:2380" {
		t.Fatal("Members returned shared slices")
	}
	h.mustApply(Command{Type: CmdMemberRemove, Member: &Member{ID: 0xa}})
	if got := h.f.Members(); len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("after remove: %+v", got)
	}
	for _, typ := range []CommandType{CmdMemberSet, CmdMemberRemove} {
		if r := h.apply(Command{Type: typ}); !errors.Is(r.Err, ErrNoMember) {
			t.Fatalf("%v without member: %v", typ, r.Err)
		}
	}
}

func TestMalformedEntryIsAResultNotAPanic(t *testing.T) {
	f := New(store.New())
	r := f.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: []byte{0xff, 1, 2}}).(*Result)
	if !errors.Is(r.Err, ErrMalformed) {
		t.Fatalf("err %v", r.Err)
	}
	if f.AppliedIndex() != 3 {
		t.Fatalf("applied %d: a rejected entry still counts as applied", f.AppliedIndex())
	}
}

func TestWaitApplied(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const waiters = 200
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for i := 1; i <= waiters; i++ {
		wg.Add(1)
		go func(idx uint64) {
			defer wg.Done()
			if err := h.f.WaitApplied(ctx, idx); err != nil {
				errs <- err
				return
			}
			if a := h.f.AppliedIndex(); a < idx {
				errs <- errors.New("woken before its index was applied")
			}
		}(uint64(i%20 + 1))
	}
	// Everyone is registered before the applies start.
	deadline := time.Now().Add(5 * time.Second)
	for h.f.applied.waiting.Load() != waiters {
		if time.Now().After(deadline) {
			t.Fatalf("only %d waiters registered", h.f.applied.waiting.Load())
		}
		time.Sleep(time.Millisecond)
	}
	for range 20 {
		h.mustApply(Command{Type: CmdNoop})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := h.f.applied.waiting.Load(); n != 0 {
		t.Fatalf("%d waiters left", n)
	}

	// Already applied: immediate. Cancelled: returns and unregisters.
	if err := h.f.WaitApplied(ctx, 5); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := h.f.WaitApplied(cctx, 1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if n := h.f.applied.waiting.Load(); n != 0 {
		t.Fatalf("cancelled waiter left in the heap (%d)", n)
	}
}

// ApplyBatch reaches the state one-by-one Apply reaches, answers each command
// entry with its own Result, and skips configuration entries (nil response)
// without counting them as applied.
func TestApplyBatchMatchesApply(t *testing.T) {
	cmds := workload(300)
	one, batched := newHarness(t), newHarness(t)
	var logs []*raft.Log
	var want []*Result
	for i, c := range cmds {
		want = append(want, one.apply(c))
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogCommand, Data: c.Marshal()})
		if i%50 == 49 {
			logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogConfiguration, Data: []byte{0}})
		}
	}
	var got []interface{}
	for rest := logs; len(rest) > 0; {
		k := min(37, len(rest))
		got = append(got, batched.f.ApplyBatch(rest[:k])...)
		rest = rest[k:]
	}
	if len(got) != len(logs) {
		t.Fatalf("%d responses for %d entries", len(got), len(logs))
	}
	j := 0
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			if got[i] != nil {
				t.Fatalf("entry %d (configuration) answered %v", l.Index, got[i])
			}
			continue
		}
		r, ok := got[i].(*Result)
		if !ok {
			t.Fatalf("entry %d answered %T", l.Index, got[i])
		}
		if fmt.Sprint(r.Err) != fmt.Sprint(want[j].Err) || (r.Event == nil) != (want[j].Event == nil) ||
			r.Event != nil && string(r.Event.AppendJSON(nil)) != string(want[j].Event.AppendJSON(nil)) {
			t.Fatalf("entry %d: batched %+v, one by one %+v", l.Index, r, want[j])
		}
		j++
	}
	if sa, sb := state(t, one), state(t, batched); sa[:strings.Index(sa, `"Applied"`)] != sb[:strings.Index(sb, `"Applied"`)] {
		t.Fatalf("states differ:\none by one %s\nbatched %s", sa, sb)
	}
	// The last entry is a configuration entry: the applied index names the last command.
	if last := logs[len(logs)-1]; last.Type != raft.LogConfiguration || batched.f.AppliedIndex() != last.Index-1 {
		t.Fatalf("applied index %d, last entry %d (%v)", batched.f.AppliedIndex(), last.Index, last.Type)
	}
}
