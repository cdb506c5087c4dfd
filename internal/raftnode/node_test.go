package raftnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/fsm"
)

func TestSingleNodeBootstrapApplyRestart(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	a := c.leader()
	if got := <-a.leadership; !got {
		t.Fatal("first leadership callback was not true")
	}
	idx := put(t, a, "/k", "v1")
	if a.f.AppliedIndex() < idx {
		t.Fatalf("Apply returned before the FSM applied %d", idx)
	}
	if _, err := os.Stat(filepath.Join(a.dir, "wal")); err != nil {
		t.Fatal(err)
	}
	c.stop("a")

	// The restart passes no bootstrap and must find the existing state.
	a = c.restart("a")
	a = c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := linearRead(ctx, a, "/k")
	if err != nil || v != "v1" {
		t.Fatalf("after restart: %q %v", v, err)
	}
	if a.n.Term() < 2 {
		t.Fatalf("term %d after restart", a.n.Term())
	}
	put(t, a, "/k", "v2")
}

func TestRestartWithBootstrapKeepsState(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	a := c.leader()
	put(t, a, "/k", "v")
	c.stop("a")
	// A node restarted with its original bootstrap list (as cairnd does
	// with --initial-cluster) must not bootstrap again.
	ln := c.listen("a", a.addr)
	c.startOn("a", ln, []raft.Server{{ID: "a", Address: raft.ServerAddress(a.addr), Suffrage: raft.Voter}})
	a = c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, err := linearRead(ctx, a, "/k"); err != nil || v != "v" {
		t.Fatalf("%q %v", v, err)
	}
}

func TestThreeNodesReplicateAndReadIndex(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	var idx uint64
	for i := range 20 {
		idx = put(t, l, fmt.Sprintf("/k%d", i), fmt.Sprint(i))
	}
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "replication to "+n.id, func() bool { return n.f.AppliedIndex() >= idx })
		if v, _ := value(n, "/k19"); v != "19" {
			t.Fatalf("%s: /k19 = %q", n.id, v)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ri, err := l.n.ReadIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ri < idx {
		t.Fatalf("read index %d below acknowledged write %d", ri, idx)
	}

	for _, id := range c.others(l.id) {
		f := c.nodes[id]
		if _, err := f.n.ReadIndex(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower ReadIndex: %v", err)
		}
		if _, _, err := f.n.Apply(ctx, (&fsm.Command{Type: fsm.CmdNoop}).Marshal()); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower Apply: %v", err)
		}
		if f.n.LeaderID() != l.id || f.n.LeaderAddr() != l.addr {
			t.Fatalf("%s sees leader %s@%s", id, f.n.LeaderID(), f.n.LeaderAddr())
		}
		if f.n.FollowerStats() != nil {
			t.Fatal("a follower reported follower stats")
		}
	}

	// Followers read through the leader's index and their own apply.
	fol := c.nodes[c.others(l.id)[0]]
	last := put(t, l, "/fresh", "yes")
	ri, err = l.n.ReadIndex(ctx)
	if err != nil || ri < last {
		t.Fatalf("read index %d (%v) < %d", ri, err, last)
	}
	if err := fol.f.WaitApplied(ctx, ri); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(fol, "/fresh"); v != "yes" {
		t.Fatalf("follower read after its apply of the read index: %q", v)
	}
}

// The trap of DESIGN rule 3: a leader's latest entries may be its no-op and
// barrier, which never reach the FSM. A read index that named them would
// never be applied; it must name the last command instead.
func TestReadIndexAfterLeaderChangeDoesNotHang(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	idx := put(t, l, "/k", "v")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.n.TransferLeadership(ctx); err != nil {
		t.Fatal(err)
	}
	nl := c.leader(l.id)
	if nl.n.CommitIndex() <= idx {
		t.Fatalf("new leader's commit %d does not include its own entries past %d", nl.n.CommitIndex(), idx)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer rcancel()
	v, err := linearRead(rctx, nl, "/k")
	if err != nil || v != "v" {
		t.Fatalf("read on new leader: %q %v", v, err)
	}
}

func TestReadIndexBatchesVerifyLeader(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	put(t, l, "/k", "v")
	const reads = 300
	before := l.n.verify.rounds.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := make(chan struct{})
	errs := make(chan error, reads)
	for range reads {
		go func() {
			<-start
			_, err := l.n.ReadIndex(ctx)
			errs <- err
		}()
	}
	close(start)
	for range reads {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rounds := l.n.verify.rounds.Load() - before
	t.Logf("%d reads, %d VerifyLeader rounds", reads, rounds)
	if rounds == 0 || rounds > reads/4 {
		t.Fatalf("%d rounds for %d concurrent reads: not batched", rounds, reads)
	}
}

func TestDeposedLeaderFailsReadIndex(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	old := c.leader()
	put(t, old, "/k", "old")
	c.cut.isolate(old.id, c.others(old.id)...)

	// The majority moves on and acknowledges a newer write.
	nl := c.leader(old.id)
	put(t, nl, "/k", "new")

	// The old leader must never answer with "old"; it fails within ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	v, err := linearRead(ctx, old, "/k")
	if err == nil {
		t.Fatalf("cut-off leader served a linearizable read: %q", v)
	}
	if time.Since(start) > 3500*time.Millisecond {
		t.Fatalf("ReadIndex ignored its context: %v", time.Since(start))
	}
	c.cut.heal()
	waitFor(t, 10*time.Second, "old leader rejoining", func() bool {
		v, _ := value(old, "/k")
		return v == "new"
	})
}

func TestDeposedLeaderInFlightReadFails(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
		cfg.HeartbeatTimeout = time.Second
		cfg.ElectionTimeout = time.Second
	})
	l := c.leader()
	put(t, l, "/k", "v")
	c.cut.isolate(l.id, c.others(l.id)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Right after the cut raft still believes it leads; the quorum round
	// cannot succeed, so the read must fail (lease expiry), not succeed.
	if _, err := l.n.ReadIndex(ctx); err == nil {
		t.Fatal("ReadIndex succeeded on a leader cut off from its quorum")
	}
}

func TestFollowerStats(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	put(t, l, "/k", "v")
	waitFor(t, 5*time.Second, "heartbeats to both followers", func() bool {
		st := l.n.FollowerStats()
		if len(st) != 2 {
			return false
		}
		for _, s := range st {
			if s.Counts.Success < 5 {
				return false
			}
		}
		return true
	})
	for id, s := range l.n.FollowerStats() {
		lat := s.Latency
		if id == l.id || lat.Minimum <= 0 || lat.Minimum > lat.Average || lat.Average > lat.Maximum ||
			lat.Current < lat.Minimum || lat.Current > lat.Maximum || lat.StandardDeviation < 0 {
			t.Fatalf("%s: implausible stats %+v", id, s)
		}
	}
	// A follower that stops answering accumulates failures.
	victim := c.others(l.id)[0]
	c.stop(victim)
	waitFor(t, 5*time.Second, "failures counted for "+victim, func() bool {
		return l.n.FollowerStats()[victim].Counts.Fail > 0
	})
}

// Concurrent writes share log appends (one bbolt transaction, one fsync each).
func TestGroupCommit(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	l := c.leader()
	const writes = 200
	a0, e0 := l.n.appends.appends.Load(), l.n.appends.entries.Load()
	start := make(chan struct{})
	errs := make(chan error, writes)
	for i := range writes {
		go func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _, err := l.n.Apply(ctx, (&fsm.Command{Type: fsm.CmdPut, Key: fmt.Sprintf("/g/%d", i), Value: "v"}).Marshal())
			errs <- err
		}()
	}
	close(start)
	for range writes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	appends, entries := l.n.appends.appends.Load()-a0, l.n.appends.entries.Load()-e0
	t.Logf("%d writes: %d entries in %d appends", writes, entries, appends)
	if entries < writes || appends > writes/4 {
		t.Fatalf("%d entries in %d appends: writes were not batched", entries, appends)
	}
}

// A read waiting for readiness must not miss it when leadership changes
// hands (here: a second notification) while it waits.
func TestReadIndexWaitsThroughReadinessChanges(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	n := c.leader().n
	n.transition(true) // as on a leadership notification: not ready until a barrier
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := n.ReadIndex(ctx)
		done <- err
	}()
	waitFor(t, 5*time.Second, "the read waiting for readiness", func() bool { return n.readyWaiters.Load() == 1 })
	gen := n.transition(true)
	n.wg.Add(1)
	go n.establish(gen)
	if err := <-done; err != nil {
		t.Fatalf("read after readiness returned: %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		in, want error
	}{
		{nil, nil},
		{raft.ErrNotLeader, ErrNotLeader},
		{raft.ErrLeadershipLost, ErrLeadershipLost},
		{raft.ErrLeadershipTransferInProgress, ErrNotLeader},
		{raft.ErrRaftShutdown, ErrStopped},
		{raft.ErrEnqueueTimeout, context.DeadlineExceeded},
		{raft.ErrEnqueueTimeout, raft.ErrEnqueueTimeout},
	}
	for _, tc := range cases {
		if got := mapErr(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestApplyWithExpiredContextProposesNothing(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	l := c.leader()
	put(t, l, "/k", "v")
	last := l.n.LastIndex()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, _, err := l.n.Apply(ctx, (&fsm.Command{Type: fsm.CmdNoop}).Marshal()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if l.n.LastIndex() != last {
		t.Fatal("an expired request was proposed")
	}
	n := l.n
	c.stop("a")
	if _, _, err := n.Apply(context.Background(), nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Apply after Shutdown: %v", err)
	}
	if _, err := n.ReadIndex(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("ReadIndex after Shutdown: %v", err)
	}
}

// The transport never offers raft its pipeline (see statsTransport.AppendEntriesPipeline), so
// replication runs on synchronous AppendEntries that cannot wedge on a dead decoder.
func TestReplicationIsNotPipelined(t *testing.T) {
	var st statsTransport
	p, err := st.AppendEntriesPipeline("n2", "127.0.0.1:1")
	if p != nil || !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("pipeline %v, %v: raft would pipeline replication", p, err)
	}
}
