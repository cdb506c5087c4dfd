package node_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	client "go.etcd.io/etcd/client/v2"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// A member stopped gracefully (what SIGTERM does) right after a burst takes
// a snapshot on the way out, and that snapshot carries the event history: a
// waitIndex watch right after the restart is answered from it, as etcd
// answers it, instead of 401 "the requested history has been cleared".
func TestWatchHistoryAcrossGracefulRestart(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.SnapshotCount = 1 << 30 // only the stop takes a snapshot
		cfg.SnapshotInterval = time.Hour
	}))
	c.WaitLeader(t)
	// Snapshots carry the event history from the cluster version that allows their format on.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if l := c.Members[0].Node().FSM().ClusterLevel(); l != fsm.CurrentLevel {
			return fmt.Errorf("cluster level %v, want %v", l, fsm.CurrentLevel)
		}
		return nil
	})
	// More entries than the stop threshold (raftnode.DefaultStopSnapshotThreshold).
	const writes = 1200
	var wg sync.WaitGroup
	errs := make(chan error, writes)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < writes; i += 16 {
				if _, err := c.Put(0, fmt.Sprintf("/burst/%d", i%40), strconv.Itoa(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last, err := c.Put(0, "/burst/last", "x")
	if err != nil {
		t.Fatal(err)
	}
	lastRaft := c.Members[0].Node().Raft().LastIndex()
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	c.Restart(0)
	snap, _ := strconv.ParseUint(c.Members[0].Node().Raft().Stats()["last_snapshot_index"], 10, 64)
	if snap < lastRaft {
		t.Fatalf("restarted from a snapshot at raft index %d; the stop should have taken one at %d", snap, lastRaft)
	}

	cl, err := client.New(client.Config{Endpoints: []string{c.Members[0].ClientURL}, Transport: client.DefaultTransport,
		HeaderTimeoutPerRequest: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	kapi := client.NewKeysAPI(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// 500 events back: inside the 1,000 kept, long before the restart.
	since := last.Node.ModifiedIndex - 500
	r, err := kapi.Watcher("/burst", &client.WatcherOptions{AfterIndex: since - 1, Recursive: true}).Next(ctx)
	if err != nil {
		t.Fatalf("watch from index %d after the restart: %v", since, err)
	}
	if r.Node.ModifiedIndex != since || r.Action != "set" {
		t.Fatalf("watch from %d got %s of %s at %d", since, r.Action, r.Node.Key, r.Node.ModifiedIndex)
	}
	// The first event answered is the same one the store recorded before the stop.
	if _, err := strconv.Atoi(r.Node.Value); err != nil {
		t.Fatalf("event at %d carries value %q", since, r.Node.Value)
	}
	// And the newest one, the last write before the stop.
	r, err = kapi.Watcher("/burst/last", &client.WatcherOptions{AfterIndex: last.Node.ModifiedIndex - 1}).Next(ctx)
	if err != nil || r.Node.ModifiedIndex != last.Node.ModifiedIndex || r.Node.Value != "x" {
		t.Fatalf("watch of the last write after the restart: %+v %v", r, err)
	}
}
