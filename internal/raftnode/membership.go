package raftnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// ErrUnknownMember is returned by Promote for an ID not in the configuration.
var ErrUnknownMember = errors.New("raftnode: unknown member")

// membershipTimeout returns raft's enqueue timeout for a membership change:
// the time left in ctx, or none.
func membershipTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

func (n *Node) leaderOnly() error {
	if n.stopped() {
		return ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return nil
}

// AddVoter adds (or promotes) a voting member and waits for the
// configuration change to commit.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout(ctx)))
}

// AddNonvoter adds a learner: it receives the log but neither votes nor
// counts toward commitment.
func (n *Node) AddNonvoter(ctx context.Context, id, addr string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout(ctx)))
}

// Promote turns an existing learner into a voter at its known address.
func (n *Node) Promote(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == id {
			if s.Suffrage == raft.Voter {
				return nil
			}
			return n.AddVoter(ctx, id, string(s.Address))
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownMember, id)
}

// Remove removes a member, the leader itself included: raft then commits
// the change, the old leader steps down and (raft's ShutdownOnRemove) stops,
// and the others elect a new leader.
func (n *Node) Remove(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout(ctx)))
}

// Servers returns the latest configuration (possibly not yet committed).
func (n *Node) Servers() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, mapErr(err)
	}
	return f.Configuration().Servers, nil
}

// TransferLeadership hands leadership to the most up-to-date voter.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.LeadershipTransfer())
}

// liveVoter picks the other voter that answered the leader most recently,
// if that was within half a heartbeat timeout (heartbeats go out every
// tenth of one): a transfer to a node that is down would only delay
// shutdown by an election timeout.
func (n *Node) liveVoter() (raft.Server, bool) {
	servers, err := n.Servers()
	if err != nil {
		return raft.Server{}, false
	}
	type candidate struct {
		s       raft.Server
		contact time.Time
	}
	var cands []candidate
	for _, s := range servers {
		if s.Suffrage != raft.Voter || string(s.ID) == n.cfg.ID {
			continue
		}
		// No contact yet means this node has led for less than a heartbeat round: the dial
		// below decides. A contact older than half a timeout means the follower is not keeping up.
		if c := n.trans.lastContact(s.ID); c.IsZero() || time.Since(c) <= n.cfg.HeartbeatTimeout/2 {
			cands = append(cands, candidate{s, c})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].contact.After(cands[j].contact) })
	// A follower killed a moment ago still has a fresh last contact, and a transfer to it would
	// wait out an election timeout; its peer port refuses at once, so ask before choosing it.
	for _, c := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), livenessDialTimeout)
		conn, err := n.cfg.Dial(ctx, "tcp", string(c.s.Address))
		cancel()
		if err != nil {
			n.log.Info("not handing leadership to a follower that does not answer", "to", string(c.s.ID), "error", err)
			continue
		}
		conn.Close()
		return c.s, true
	}
	return raft.Server{}, false
}

// livenessDialTimeout bounds the check that a hand-off target still listens.
const livenessDialTimeout = 200 * time.Millisecond

// Shutdown stops the node. A leader first hands leadership to a live voter,
// bounded by one election timeout, so the cluster does not wait for a
// failure detection; with no live voter it skips that at once. Then a
// snapshot is taken if the log since the last one is long (bounded by
// StopSnapshotTimeout, see snapshot.go), raft stops and the stores and peer
// port close.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		n.HandOff()
		n.snapshotBeforeStop()
		n.abortSnapshots() // raft's shutdown waits for a snapshot being written
		close(n.stopCh)
		err := n.raft.Shutdown().Error()
		n.trans.heartbeats.close() // no heartbeat may write to the stores closed below
		n.wg.Wait()
		if cerr := n.mux.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
		if cerr := n.bolt.Close(); err == nil {
			err = cerr
		}
		n.shutdownErr = err
	})
	return n.shutdownErr
}

// HandOff, on a leader, passes leadership to a live voter, bounded by one election timeout; it
// does nothing on a follower or when no voter answers. Shutdown calls it; a node stopping on
// SIGTERM calls it first, before draining its clients, so the cluster never waits on the drain.
func (n *Node) HandOff() {
	if n.stopped() || n.raft.State() != raft.Leader {
		return
	}
	target, ok := n.liveVoter()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ElectionTimeout)
	err := n.await(ctx, n.raft.LeadershipTransferToServer(target.ID, target.Address))
	cancel()
	n.log.Info("leadership hand-off", "to", string(target.ID), "error", err)
}
