package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/store"
)

// entryLog stands where raft stands for the batcher: it applies each entry it is given to a
// real FSM, in order, once the test lets it through.
type entryLog struct {
	f    *fsm.FSM
	gate chan struct{} // one receive per entry
	fail error         // when set, every entry is refused with it

	mu      sync.Mutex
	entries [][]byte
	counts  []int
}

func newEntryLog() *entryLog {
	return &entryLog{f: fsm.New(store.New()), gate: make(chan struct{}, 1000)}
}

func (l *entryLog) apply(ctx context.Context, data []byte, proposals int) (interface{}, error) {
	l.mu.Lock()
	l.entries = append(l.entries, data)
	l.counts = append(l.counts, proposals)
	l.mu.Unlock()
	select {
	case <-l.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.fail != nil {
		return nil, l.fail
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Apply(&raft.Log{Index: uint64(len(l.entries)), Type: raft.LogCommand, Data: data}), nil
}

// proposed is how many entries were proposed so far.
func (l *entryLog) proposed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// waitFor polls cond, as every test here waits: never for a fixed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeClock advances an hour at each reading, so that every entry seems to have taken an hour
// to commit and a free slot lingers for as long as the batcher's bound allows.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	now := time.Unix(0, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Hour)
		return now
	}
}

func newTestBatcher(l *entryLog, linger time.Duration) *writeBatcher {
	return &writeBatcher{apply: l.apply, batches: func() bool { return true }, timeout: time.Minute,
		linger: linger, now: fakeClock()}
}

type outcome struct {
	res *fsm.Result
	err error
}

func putCmd(key, value string) []byte {
	return (&fsm.Command{Type: fsm.CmdPut, Key: key, Value: value, Time: 1}).Marshal()
}

// proposeAsync proposes a put of key=value and delivers the outcome on the returned channel.
func proposeAsync(ctx context.Context, b *writeBatcher, key, value string) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := b.propose(ctx, putCmd(key, value))
		ch <- outcome{res, err}
	}()
	return ch
}

func (b *writeBatcher) queuedNow() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queued
}

// A write on an idle leader is proposed at once, alone; the writes that arrive while it commits
// share one batch entry, each with its own result and store index.
func TestWritesArrivingDuringACommitShareOneEntry(t *testing.T) {
	l := newEntryLog()
	b := newTestBatcher(l, time.Millisecond)
	first := proposeAsync(context.Background(), b, "/first", "0")
	waitFor(t, "the first write's entry", func() bool { return l.proposed() == 1 })
	const n = 20
	outs := make([]<-chan outcome, n)
	for i := range outs {
		outs[i] = proposeAsync(context.Background(), b, fmt.Sprintf("/k%d", i), fmt.Sprint(i))
	}
	waitFor(t, "the writes to queue", func() bool { return b.queuedNow() == n })
	if l.proposed() != 1 {
		t.Fatalf("%d entries proposed while the first was in flight, want 1", l.proposed())
	}
	for range 2 {
		l.gate <- struct{}{}
	}
	if o := <-first; o.err != nil || o.res.Err != nil || o.res.Event.Index() != 1 {
		t.Fatalf("first write: %+v", o)
	}
	seen := map[uint64]bool{}
	for i, ch := range outs {
		o := <-ch
		if o.err != nil || o.res.Err != nil {
			t.Fatalf("write %d: %v %+v", i, o.err, o.res)
		}
		if ev := o.res.Event; ev.Node.Key != fmt.Sprintf("/k%d", i) || *ev.Node.Value != fmt.Sprint(i) || seen[ev.Index()] {
			t.Fatalf("write %d answered with %+v (index seen before: %v)", i, ev.Node, seen[ev.Index()])
		}
		seen[o.res.Event.Index()] = true
	}
	if l.proposed() != 2 || l.counts[1] != n || l.entries[1][0] != byte(fsm.CmdBatch) {
		t.Fatalf("%d entries, the second of %d proposals (type %d); want the %d writes in one batch entry",
			l.proposed(), l.counts[len(l.counts)-1], l.entries[len(l.entries)-1][0], n)
	}
}

// A free slot waits for as many writes as the entry just answered before it proposes the next:
// the writer answered comes back and shares the entry with the one that waited.
func TestAFreeSlotLingersForTheWritersJustAnswered(t *testing.T) {
	l := newEntryLog()
	b := newTestBatcher(l, time.Hour)
	a := proposeAsync(context.Background(), b, "/a", "1")
	waitFor(t, "a's entry", func() bool { return l.proposed() == 1 })
	waiting := proposeAsync(context.Background(), b, "/b", "1")
	waitFor(t, "b to queue", func() bool { return b.queuedNow() == 1 })
	l.gate <- struct{}{}
	if o := <-a; o.err != nil {
		t.Fatal(o.err)
	}
	// a's writer is back: without the wait, b would be alone in an entry already.
	back := proposeAsync(context.Background(), b, "/a", "2")
	waitFor(t, "the second entry", func() bool { return l.proposed() == 2 })
	l.gate <- struct{}{}
	for _, ch := range []<-chan outcome{waiting, back} {
		if o := <-ch; o.err != nil || o.res.Err != nil {
			t.Fatalf("%v %+v", o.err, o.res)
		}
	}
	if l.counts[1] != 2 {
		t.Fatalf("second entry holds %d writes, want both", l.counts[1])
	}
}

// The wait is bounded: a writer that does not come back does not hold the others.
func TestLingerEndsWhenNobodyComesBack(t *testing.T) {
	l := newEntryLog()
	b := newTestBatcher(l, 5*time.Millisecond)
	a := proposeAsync(context.Background(), b, "/a", "1")
	waitFor(t, "a's entry", func() bool { return l.proposed() == 1 })
	waiting := proposeAsync(context.Background(), b, "/b", "1")
	waitFor(t, "b to queue", func() bool { return b.queuedNow() == 1 })
	l.gate <- struct{}{}
	<-a
	waitFor(t, "b's entry after the bounded wait", func() bool { return l.proposed() == 2 })
	l.gate <- struct{}{}
	if o := <-waiting; o.err != nil || o.res.Err != nil {
		t.Fatalf("%v %+v", o.err, o.res)
	}
}

// An entry that fails fails every write in it, with raft's error; a writer that gives up before
// its write is proposed does not fail the others, and its write is left out.
func TestBatchFailuresReachEveryWriterAndNoOther(t *testing.T) {
	t.Run("whole entry", func(t *testing.T) {
		l := newEntryLog()
		b := newTestBatcher(l, time.Millisecond)
		first := proposeAsync(context.Background(), b, "/first", "0")
		waitFor(t, "the first entry", func() bool { return l.proposed() == 1 })
		outs := []<-chan outcome{proposeAsync(context.Background(), b, "/x", "1"), proposeAsync(context.Background(), b, "/y", "1")}
		waitFor(t, "the writes to queue", func() bool { return b.queuedNow() == 2 })
		l.fail = raftnode.ErrLeadershipLost
		for range 2 {
			l.gate <- struct{}{}
		}
		for _, ch := range append(outs, first) {
			if o := <-ch; !errors.Is(o.err, raftnode.ErrLeadershipLost) {
				t.Fatalf("write answered %+v, want leadership lost", o)
			}
		}
	})
	t.Run("one writer gives up", func(t *testing.T) {
		l := newEntryLog()
		b := newTestBatcher(l, time.Millisecond)
		first := proposeAsync(context.Background(), b, "/first", "0")
		waitFor(t, "the first entry", func() bool { return l.proposed() == 1 })
		ctx, cancel := context.WithCancel(context.Background())
		quitter := proposeAsync(ctx, b, "/quitter", "1")
		stayer := proposeAsync(context.Background(), b, "/stayer", "1")
		waitFor(t, "the writes to queue", func() bool { return b.queuedNow() == 2 })
		cancel()
		if o := <-quitter; !errors.Is(o.err, context.Canceled) {
			t.Fatalf("quitter: %+v", o)
		}
		for range 2 {
			l.gate <- struct{}{}
		}
		<-first
		if o := <-stayer; o.err != nil || o.res.Err != nil || *o.res.Event.Node.Value != "1" {
			t.Fatalf("stayer: %+v", o)
		}
		// The quitter was told its write failed before anything was proposed: it never happens.
		if _, err := l.f.Store().Get("/quitter", false, false, time.Now()); !errors.Is(err, store.ErrKeyNotFound) {
			t.Fatalf("/quitter after its writer gave up before the proposal: %v", err)
		}
		if l.proposed() != 2 || l.counts[1] != 1 {
			t.Fatalf("%d entries, the second of %d writes; want the stayer's alone", l.proposed(), l.counts[len(l.counts)-1])
		}
	})
}

// Below LevelBatch a gathered batch goes out as entries of their own, which every member of an
// earlier build can apply.
func TestNoBatchEntryBelowTheBatchLevel(t *testing.T) {
	l := newEntryLog()
	b := newTestBatcher(l, time.Millisecond)
	b.batches = func() bool { return false }
	first := proposeAsync(context.Background(), b, "/first", "0")
	waitFor(t, "the first entry", func() bool { return l.proposed() == 1 })
	outs := []<-chan outcome{proposeAsync(context.Background(), b, "/x", "1"), proposeAsync(context.Background(), b, "/y", "1")}
	waitFor(t, "the writes to queue", func() bool { return b.queuedNow() == 2 })
	for range 3 {
		l.gate <- struct{}{}
	}
	for _, ch := range append(outs, first) {
		if o := <-ch; o.err != nil || o.res.Err != nil {
			t.Fatalf("%+v", o)
		}
	}
	for i, e := range l.entries {
		if e[0] == byte(fsm.CmdBatch) || l.counts[i] != 1 {
			t.Fatalf("entry %d is a batch of %d below the batch level", i, l.counts[i])
		}
	}
}
