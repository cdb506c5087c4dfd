package raftnode

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// close waits for a heartbeat being handled (raft persisting a term, say) to finish, and a
// heartbeat arriving after it is answered with ErrRaftShutdown without reaching raft.
func TestHeartbeatGuardWaitsAndRefuses(t *testing.T) {
	var g heartbeatGuard
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	h := g.wrap(func(rpc raft.RPC) {
		calls++
		close(entered)
		<-release
		rpc.Respond(&raft.AppendEntriesResponse{}, nil)
	})
	first := make(chan raft.RPCResponse, 1)
	go h(raft.RPC{Command: &raft.AppendEntriesRequest{}, RespChan: first})
	<-entered

	closed := make(chan struct{})
	go func() {
		g.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while a heartbeat was still being handled")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return after the heartbeat finished")
	}
	if r := <-first; r.Error != nil {
		t.Fatalf("the heartbeat in flight was answered %v", r.Error)
	}

	late := make(chan raft.RPCResponse, 1)
	h(raft.RPC{Command: &raft.AppendEntriesRequest{}, RespChan: late})
	if r := <-late; !errors.Is(r.Error, raft.ErrRaftShutdown) || calls != 1 {
		t.Fatalf("a heartbeat after close: %v, handler calls %d", r.Error, calls)
	}
	if g.wrap(nil) != nil {
		t.Fatal("a nil handler wrapped into a non-nil one")
	}
}

// Both ways a node stops close its guard before the stores close: a heartbeat reaching raft
// after Kill panicked the process ("failed to save current term: closed") in a test run.
func TestStopAndKillCloseTheHeartbeatGuard(t *testing.T) {
	c := newCluster(t, []string{"a", "b"}, nil)
	c.leader()
	for id, stop := range map[string]func(*Node) error{"a": (*Node).Shutdown, "b": (*Node).Kill} {
		n := c.nodes[id].n
		if err := stop(n); err != nil {
			t.Fatalf("stopping %s: %v", id, err)
		}
		late := make(chan raft.RPCResponse, 1)
		n.trans.heartbeats.wrap(func(rpc raft.RPC) {
			t.Errorf("%s: a heartbeat reached raft after the stop", id)
			rpc.Respond(&raft.AppendEntriesResponse{}, nil)
		})(raft.RPC{Command: &raft.AppendEntriesRequest{}, RespChan: late})
		if r := <-late; !errors.Is(r.Error, raft.ErrRaftShutdown) {
			t.Errorf("%s: a heartbeat after the stop was answered %v", id, r.Error)
		}
	}
}
