package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// httpReadIndexes counts the read-index requests members send over peer HTTP: with the relay
// wired, a follower's linearizable reads must send none.
type httpReadIndexes struct{ n atomic.Int64 }

type peekConn struct {
	net.Conn
	h *httpReadIndexes
}

var readIndexRequest = []byte("GET " + server.ReadIndexPath)

func (c *peekConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, readIndexRequest) {
		c.h.n.Add(1)
	}
	return c.Conn.Write(p)
}

func relayReadCluster(t *testing.T) (*testcluster.Cluster, *httpReadIndexes) {
	h := &httpReadIndexes{}
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		dial := cfg.PeerDial
		cfg.PeerDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &peekConn{Conn: conn, h: h}, nil
		}
	}))
	return c, h
}

// Every linearizable read on a follower returns a value at least as new as the last write
// acknowledged before the read began, while writes go on through every member; the followers
// get their read indexes over the relay, never over peer HTTP.
func TestFollowerReadsSeeAcknowledgedWritesOverTheRelay(t *testing.T) {
	c, h := relayReadCluster(t)
	leader := c.WaitLeader(t)
	if _, err := c.Put(leader.Index, "/seq", "0"); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := c.Put(int(i)%3, "/seq", strconv.FormatInt(i, 10)); err != nil {
				writerDone <- err
				return
			}
			acked.Store(i)
		}
	}()
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 8)
	for _, f := range c.Followers() {
		for r := 0; r < 4; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					before := acked.Load()
					g, err := c.Get(f.Index, "/seq", nil)
					if err != nil {
						errs <- fmt.Errorf("read on %s: %v", f.Name, err)
						return
					}
					if v, _ := strconv.ParseInt(g.Node.Value, 10, 64); v < before {
						errs <- fmt.Errorf("%s returned %d after write %d was acknowledged", f.Name, v, before)
						return
					}
					reads.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if acked.Load() < 10 {
		t.Fatalf("only %d writes during %d reads: the reads did not overlap writes", acked.Load(), reads.Load())
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("%d read-index requests went over peer HTTP", n)
	}
}

// After each leadership transfer, a write acknowledged by the new leader is seen by a
// linearizable read on every other member, the old leader included.
func TestFollowerReadsFollowLeaderChanges(t *testing.T) {
	c, h := relayReadCluster(t)
	for round := 0; round < 3; round++ {
		old := c.WaitLeader(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := old.Node().Raft().TransferLeadership(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var nl *testcluster.Member
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if nl = c.WaitLeader(t); nl == old {
				return fmt.Errorf("%s still leads", old.Name)
			}
			return nil
		})
		value := fmt.Sprintf("round %d by %s", round, nl.Name)
		w, err := c.Put(nl.Index, "/lead", value)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range c.Members {
			if m == nl {
				continue
			}
			g, err := c.Get(m.Index, "/lead", nil)
			if err != nil {
				t.Fatalf("round %d: read on %s: %v", round, m.Name, err)
			}
			if g.Node.Value != value || g.Node.ModifiedIndex < w.Node.ModifiedIndex {
				t.Fatalf("round %d: %s served %q (index %d) after %q (index %d) was acknowledged",
					round, m.Name, g.Node.Value, g.Node.ModifiedIndex, value, w.Node.ModifiedIndex)
			}
		}
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("%d read-index requests went over peer HTTP", n)
	}
}

// A follower cut off from the leader cannot get a read index: its linearizable read fails as
// a timeout once the request timeout (5s here) runs out, instead of serving its stale value.
// Once healed, it serves the majority's value again.
func TestPartitionedFollowerReadTimesOut(t *testing.T) {
	c, _ := relayReadCluster(t)
	f := c.Followers()[0]
	if _, err := c.Put(f.Index, "/k", "v1"); err != nil {
		t.Fatal(err)
	}
	if g, err := c.Get(f.Index, "/k", nil); err != nil || g.Node.Value != "v1" {
		t.Fatalf("read before the partition: %v %+v", err, g)
	}
	c.Isolate(f.Index)
	l := c.WaitLeader(t)
	if _, err := c.Put(l.Index, "/k", "v2"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	g, err := c.Get(f.Index, "/k", nil)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("partitioned follower served a linearizable read: %+v", g.Node)
	}
	if g == nil || g.Err == nil || g.Err.ErrorCode != api.CodeRaftInternal || !strings.Contains(g.Err.Message+g.Err.Cause, "timed out") {
		t.Fatalf("partitioned follower's read: want a timeout, got %v", err)
	}
	if took < 4*time.Second || took > 8*time.Second {
		t.Fatalf("partitioned follower's read failed after %v, want about the 5s request timeout", took)
	}
	c.Heal()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		g, err := c.Get(f.Index, "/k", nil)
		if err != nil {
			return err
		}
		if g.Node.Value != "v2" {
			return fmt.Errorf("healed follower serves %q, want v2", g.Node.Value)
		}
		return nil
	})
}
