package raftnode

import (
	"sync"

	"github.com/hashicorp/raft"
)

// heartbeatGuard runs raft's heartbeat handler for the transport and lets Shutdown wait until
// no heartbeat is being handled before it closes the stores.
//
// hashicorp/raft handles heartbeats on the transport's connection goroutines, outside the
// goroutines its Shutdown waits for. A heartbeat that passed raft's shutdown check just before
// Shutdown may still be persisting a newer term when the stable store closes, and raft panics
// on that failed write ("failed to save current term: closed"). The guard closes that window.
type heartbeatGuard struct {
	mu     sync.RWMutex
	closed bool
}

// wrap returns fn run under the guard: refused with ErrRaftShutdown once the guard is closed.
func (g *heartbeatGuard) wrap(fn func(raft.RPC)) func(raft.RPC) {
	if fn == nil {
		return nil
	}
	return func(rpc raft.RPC) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.closed {
			rpc.Respond(nil, raft.ErrRaftShutdown)
			return
		}
		fn(rpc)
	}
}

// close waits for the heartbeats being handled and refuses every later one.
func (g *heartbeatGuard) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// SetHeartbeatHandler installs raft's heartbeat handler behind the transport's guard.
func (t *statsTransport) SetHeartbeatHandler(fn func(rpc raft.RPC)) {
	t.NetworkTransport.SetHeartbeatHandler(t.heartbeats.wrap(fn))
}
