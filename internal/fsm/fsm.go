// Package fsm owns the replicated state machine of a Cairn node: it decodes
// log entries (the typed command envelope), applies them to the keyspace
// (internal/store) and to the member table, tracks the applied index for
// read-index waits and the cluster's level (level.go), and writes and reads
// snapshots in the format of that level.
//
// It must never consult a clock, the network or any per-node state: Apply is
// a pure function of the log, so every replica reaches the same state at the
// same index. Time enters only as Command.Time, stamped by the leader.
package fsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/store"
)

// Result is the response of Apply, returned by raft's ApplyFuture.Response().
// Err is a store error (*store.Error) or an fsm error; it is the outcome of a
// committed entry, identical on every replica, not a replication failure.
type Result struct {
	Event *store.Event
	Auth  auth.Result // what a CmdAuth produced
	Err   error
}

// ErrNoMember is the Result error of a member command without a Member.
var ErrNoMember = errors.New("fsm: member command without member")

// FSM implements raft.FSM over a store and a member table.
type FSM struct {
	st      *store.Store
	applied appliedTracker
	auth    atomic.Pointer[auth.State] // replaced whole by each auth command
	level   atomic.Uint32              // the cluster's Level; written on the apply goroutine only

	mu      sync.RWMutex // guards members; Apply writes, HTTP readers read
	members map[uint64]Member
}

// New returns an FSM applying to st.
func New(st *store.Store) *FSM {
	f := &FSM{st: st, members: map[uint64]Member{}}
	f.auth.Store(auth.Empty())
	f.level.Store(uint32(LevelBaseline))
	return f
}

// Store returns the keyspace, for reads.
func (f *FSM) Store() *store.Store { return f.st }

// AppliedIndex is the raft index of the last command applied (or restored).
// Raft's barrier, no-op and configuration entries never reach the FSM, so
// this can be below raft's own applied index; a read index must therefore
// name a command entry (raftnode does so).
func (f *FSM) AppliedIndex() uint64 { return f.applied.load() }

// WaitApplied blocks until AppliedIndex() >= index or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	return f.applied.wait(ctx, index)
}

// Members returns the member table sorted by ID.
func (f *FSM) Members() []Member {
	f.mu.RLock()
	out := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, cloneMember(m))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Member returns one member by ID.
func (f *FSM) Member(id uint64) (Member, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.members[id]
	return cloneMember(m), ok
}

func cloneMember(m Member) Member {
	m.PeerURLs = slices.Clone(m.PeerURLs)
	m.ClientURLs = slices.Clone(m.ClientURLs)
	m.AlternateClientURLs = slices.Clone(m.AlternateClientURLs)
	return m
}

// Apply applies one committed command entry. A malformed entry yields a
// Result error on every replica alike; it never panics.
func (f *FSM) Apply(l *raft.Log) interface{} {
	if isBatch(l.Data) {
		res := f.applyBatch(l.Data)
		f.applied.advance(l.Index)
		return res
	}
	res := new(Result)
	var c Command
	*res = f.apply(&c, l.Data, l.Index)
	f.applied.advance(l.Index)
	return res
}

// ApplyBatch applies committed entries in order (raft.BatchingFSM): one
// Result allocation and one applied-index update (one wake-up of the waiters)
// per batch instead of per entry, which is most of what replaying a log on
// restart costs beyond the store itself. Configuration entries get a nil
// response, as raft gives them when it applies one at a time.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	results := make([]Result, len(logs))
	var last uint64
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		last = l.Index
		if isBatch(l.Data) {
			out[i] = f.applyBatch(l.Data)
			continue
		}
		var c Command
		results[i] = f.apply(&c, l.Data, l.Index)
		out[i] = &results[i]
	}
	if last > 0 {
		f.applied.advance(last)
	}
	return out
}

func (f *FSM) apply(c *Command, data []byte, index uint64) Result {
	if err := c.unmarshal(data); err != nil {
		return Result{Err: err}
	}
	switch c.Type {
	case CmdAuth:
		f.raiseLevel(LevelAuth)
		return f.applyAuth(c, index)
	case CmdClusterVersion:
		return f.applyClusterVersion(c)
	}
	return f.applyCommand(c)
}

// applyCommand applies a decoded command of any type but auth and cluster version, which need
// the entry's own index or change the level.
func (f *FSM) applyCommand(c *Command) Result {
	now := time.Unix(0, c.Time)
	switch c.Type {
	case CmdPut:
		return result(f.put(c, now))
	case CmdPost:
		return result(f.st.Create(c.Key, c.Dir, c.Value, true, ttlOptions(c, now), now))
	case CmdDelete:
		if c.PrevIndex > 0 || c.PrevValue != "" {
			return result(f.st.CompareAndDelete(c.Key, c.PrevValue, c.PrevIndex, now))
		}
		return result(f.st.Delete(c.Key, c.Dir, c.Recursive, now))
	case CmdExpire:
		f.st.DeleteExpiredKeys(now)
		return Result{}
	case CmdMemberSet:
		if c.Member == nil {
			return Result{Err: ErrNoMember}
		}
		f.mu.Lock()
		f.members[c.Member.ID] = *c.Member
		f.mu.Unlock()
		return Result{}
	case CmdMemberRemove:
		if c.Member == nil {
			return Result{Err: ErrNoMember}
		}
		f.mu.Lock()
		delete(f.members, c.Member.ID)
		f.mu.Unlock()
		return Result{}
	case CmdNoop:
		return Result{}
	}
	// Unmarshal accepts only known types.
	return Result{Err: fmt.Errorf("%w: unhandled type %v", ErrMalformed, c.Type)}
}

// put follows etcd's v2 applier: prevExist decides between update, CAS and
// create; without it, a prevIndex or prevValue makes a CAS, else a set.
func (f *FSM) put(c *Command, now time.Time) (*store.Event, error) {
	ttl := ttlOptions(c, now)
	switch {
	case c.PrevExist != nil && *c.PrevExist:
		if c.PrevIndex == 0 && c.PrevValue == "" {
			return f.st.Update(c.Key, c.Value, ttl, now)
		}
		return f.st.CompareAndSwap(c.Key, c.PrevValue, c.PrevIndex, c.Value, ttl, now)
	case c.PrevExist != nil:
		return f.st.Create(c.Key, c.Dir, c.Value, false, ttl, now)
	case c.PrevIndex > 0 || c.PrevValue != "":
		return f.st.CompareAndSwap(c.Key, c.PrevValue, c.PrevIndex, c.Value, ttl, now)
	}
	return f.st.Set(c.Key, c.Dir, c.Value, ttl, now)
}

// ttlOptions derives the expiry from the leader's time, so every replica
// computes the same instant.
func ttlOptions(c *Command, now time.Time) store.TTLOptions {
	o := store.TTLOptions{Refresh: c.Refresh}
	if c.TTL > 0 {
		// Saturate instead of overflowing into the past; the HTTP layer
		// rejects such TTLs, this only keeps a hostile entry harmless.
		ttl := min(c.TTL, maxTTLSeconds)
		o.ExpireTime = now.Add(time.Duration(ttl) * time.Second)
	}
	return o
}

const maxTTLSeconds = int64(math.MaxInt64 / int64(time.Second) / 2)

func result(ev *store.Event, err error) Result {
	if err != nil {
		return Result{Err: err}
	}
	return Result{Event: ev}
}

var _ raft.BatchingFSM = (*FSM)(nil)

// Restore replaces the whole state with a snapshot written by Persist.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	idx, members, as, level, err := f.restore(rc)
	if err != nil {
		return err
	}
	f.auth.Store(as)
	f.level.Store(uint32(level))
	f.mu.Lock()
	f.members = members
	f.mu.Unlock()
	f.applied.advance(idx)
	return nil
}
