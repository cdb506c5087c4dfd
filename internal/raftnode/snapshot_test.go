package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/fsm"
)

// newestSnapshot is the index of the newest snapshot in a stopped node's
// directory (0: none).
func newestSnapshot(t *testing.T, dir string) uint64 {
	t.Helper()
	s, err := raft.NewFileSnapshotStore(dir, snapshotsRetained, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) == 0 {
		return 0
	}
	return metas[0].Index
}

func putMany(t *testing.T, n *tnode, count, workers int) uint64 {
	t.Helper()
	var mu sync.Mutex
	var last uint64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += workers {
				idx := put(t, n, fmt.Sprintf("/k/%d", i), "v")
				mu.Lock()
				last = max(last, idx)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return last
}

// raft's own check runs at a random moment between SnapshotInterval and
// twice that (an hour here): the snapshots this test sees come from counting
// applies, which keeps the log since the last snapshot near the threshold
// whatever the write rate.
func TestSnapshotWhenThresholdCrossed(t *testing.T) {
	const threshold = 200
	c := newCluster(t, []string{"a"}, func(cfg *Config) {
		cfg.SnapshotThreshold = threshold
		cfg.SnapshotInterval = time.Hour
		cfg.TrailingLogs = 50
	})
	n := c.leader()
	last := putMany(t, n, 3000, 16)
	waitFor(t, 10*time.Second, "a snapshot within the threshold of the last write", func() bool {
		return n.n.snaps.last.Load()+threshold > last
	})
	if got := n.n.Stats()["last_snapshot_index"]; got == "0" {
		t.Fatalf("raft reports no snapshot (last_snapshot_index %s)", got)
	}
}

func TestGracefulStopSnapshots(t *testing.T) {
	c := newCluster(t, []string{"a"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 1 << 30
		cfg.SnapshotInterval = time.Hour
		cfg.StopSnapshotThreshold = 100
	})
	n := c.leader()
	last := putMany(t, n, 300, 8)
	c.stop("a")
	if got := newestSnapshot(t, n.dir); got < last {
		t.Fatalf("newest snapshot after a graceful stop at %d, last write at %d", got, last)
	}
	// The restart loads it before raft even elects itself: the state is there at once.
	n = c.restart("a")
	if applied := n.f.AppliedIndex(); applied < last {
		t.Fatalf("applied index %d right after restart, want the snapshot's %d", applied, last)
	}
	if v, ok := value(n, "/k/299"); !ok || v != "v" {
		t.Fatalf("/k/299 after restart: %q %v", v, ok)
	}
}

func TestGracefulStopBelowThresholdTakesNoSnapshot(t *testing.T) {
	c := newCluster(t, []string{"a"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 1 << 30
		cfg.SnapshotInterval = time.Hour
		cfg.StopSnapshotThreshold = 1000
	})
	n := c.leader()
	putMany(t, n, 50, 4)
	c.stop("a")
	if got := newestSnapshot(t, n.dir); got != 0 {
		t.Fatalf("a stop 50 entries after the start took a snapshot (at %d)", got)
	}
}

// slowFSM's snapshots are written as a disk slower than any stop budget
// would write them: 1 KiB every 10 ms, 6 MB in all.
type slowFSM struct{ raft.FSM }

func (f slowFSM) Snapshot() (raft.FSMSnapshot, error) { return slowSnapshot{}, nil }

type slowSnapshot struct{}

func (slowSnapshot) Persist(sink raft.SnapshotSink) error {
	chunk := make([]byte, 1024)
	for i := 0; i < 6000; i++ {
		if _, err := sink.Write(chunk); err != nil {
			_ = sink.Cancel()
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sink.Close()
}

func (slowSnapshot) Release() {}

func TestGracefulStopSnapshotIsBounded(t *testing.T) {
	c := newCluster(t, []string{"a"}, func(cfg *Config) {
		cfg.FSM = slowFSM{cfg.FSM}
		cfg.SnapshotThreshold = 1 << 30
		cfg.SnapshotInterval = time.Hour
		cfg.StopSnapshotThreshold = 100
		cfg.StopSnapshotTimeout = 300 * time.Millisecond
	})
	n := c.leader()
	putMany(t, n, 300, 8)
	done := make(chan error, 1)
	go func() { done <- n.n.Shutdown() }()
	// The budget is the timeout plus abortGrace; the slow snapshot would take a minute.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(abortGrace + 5*time.Second):
		t.Fatal("Shutdown still waiting for a slow snapshot")
	}
	n.n = nil
	if got := newestSnapshot(t, n.dir); got != 0 {
		t.Fatalf("the abandoned snapshot was kept (at %d)", got)
	}
	// The data is in the log: a restart replays it.
	n = c.restart("a")
	waitFor(t, 10*time.Second, "the log replayed", func() bool {
		v, ok := value(n, "/k/299")
		return ok && v == "v"
	})
}

// slowCaptureFSM's Snapshot (raft's FSM-goroutine step, before any write)
// takes a minute unless AbortSnapshots cuts it short, as encoding a large
// store on a loaded machine can.
type slowCaptureFSM struct {
	raft.FSM
	abort chan struct{}
	once  sync.Once
}

func (f *slowCaptureFSM) Snapshot() (raft.FSMSnapshot, error) {
	select {
	case <-f.abort:
		return nil, errors.New("capture aborted")
	case <-time.After(time.Minute):
		return f.FSM.Snapshot()
	}
}

func (f *slowCaptureFSM) AbortSnapshots() { f.once.Do(func() { close(f.abort) }) }

func TestGracefulStopCutsASlowCapture(t *testing.T) {
	c := newCluster(t, []string{"a"}, func(cfg *Config) {
		cfg.FSM = &slowCaptureFSM{FSM: cfg.FSM, abort: make(chan struct{})}
		cfg.SnapshotThreshold = 1 << 30
		cfg.SnapshotInterval = time.Hour
		cfg.StopSnapshotThreshold = 100
		cfg.StopSnapshotTimeout = 300 * time.Millisecond
	})
	n := c.leader()
	putMany(t, n, 300, 8)
	done := make(chan error, 1)
	go func() { done <- n.n.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(abortGrace + 5*time.Second):
		t.Fatal("Shutdown still waiting for the FSM's capture")
	}
	n.n = nil
	if got := newestSnapshot(t, n.dir); got != 0 {
		t.Fatalf("a snapshot was kept (at %d)", got)
	}
}

// putBatch applies one batch entry of count puts and returns its index.
func putBatch(t *testing.T, n *tnode, prefix string, count int) uint64 {
	t.Helper()
	cmds := make([][]byte, count)
	for i := range cmds {
		cmds[i] = (&fsm.Command{Type: fsm.CmdPut, Key: fmt.Sprintf("%s/%d", prefix, i), Value: "v", Time: time.Now().UnixNano()}).Marshal()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, idx, err := n.n.ApplyProposals(ctx, fsm.MarshalBatch(cmds), count)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := resp.(*fsm.BatchResult); !ok || r.Err != nil {
		t.Fatalf("batch: %#v", resp)
	}
	return idx
}

// The snapshot thresholds count writes, not entries: a log of batch entries replays as many
// writes as they hold, so twenty entries of ten writes are two hundred to the thresholds.
func TestSnapshotThresholdsCountWrites(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		c := newCluster(t, []string{"a"}, func(cfg *Config) {
			cfg.SnapshotThreshold = 1 << 30
			cfg.SnapshotInterval = time.Hour
			cfg.StopSnapshotThreshold = 100
		})
		n := c.leader()
		var last uint64
		for i := range 20 {
			last = putBatch(t, n, fmt.Sprintf("/b%d", i), 10)
		}
		c.stop("a")
		if got := newestSnapshot(t, n.dir); got < last {
			t.Fatalf("newest snapshot after stopping 200 writes (20 entries) in: %d, last entry %d", got, last)
		}
	})
	// The log kept behind the snapshot holds about TrailingLogs writes too: a tenth as many
	// entries as configured.
	t.Run("threshold and trailing log", func(t *testing.T) {
		c := newCluster(t, []string{"a"}, func(cfg *Config) {
			cfg.SnapshotThreshold = 100
			cfg.SnapshotInterval = time.Hour
			cfg.TrailingLogs = 20480
		})
		n := c.leader()
		for i := range 15 {
			putBatch(t, n, fmt.Sprintf("/b%d", i), 10)
		}
		waitFor(t, 10*time.Second, "a snapshot after 150 writes in 15 entries", func() bool {
			return n.n.snaps.last.Load() > 0
		})
		waitFor(t, 10*time.Second, "the trailing log resized", func() bool {
			return n.n.raft.ReloadableConfig().TrailingLogs < 20480
		})
		if got := n.n.raft.ReloadableConfig().TrailingLogs; got != 2048 {
			t.Fatalf("trailing log of %d entries after batches of ten writes, want 2048", got)
		}
	})
}
