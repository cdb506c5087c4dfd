package server

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
)

// AuthState is this member's view of users, roles and the enabled flag, as of
// its last applied entry.
func (s *Server) AuthState() *auth.State { return s.fsm.AuthState() }

// ApplyAuth replicates the auth change build makes and returns what it
// produced and its log index, once applied here. build runs only on the
// leader, so what it costs (a password hash) is paid where the command is
// proposed. Like Propose it fails with raftnode.ErrNotLeader, having built
// and proposed nothing, on a follower; refusals (auth.Error) are the
// command's outcome, the same on every member.
func (s *Server) ApplyAuth(ctx context.Context, build func() (*auth.Command, error)) (auth.Result, uint64, error) {
	if !s.raft.IsLeader() {
		return auth.Result{}, 0, raftnode.ErrNotLeader
	}
	c, err := build()
	if err != nil {
		return auth.Result{}, 0, err
	}
	cmd, err := fsm.AuthCommand(c)
	if err != nil {
		return auth.Result{}, 0, err
	}
	cmd.Time = time.Now().UnixNano()
	resp, index, err := s.raft.Apply(ctx, cmd.Marshal())
	if err != nil {
		return auth.Result{}, 0, mapApplyErr(err)
	}
	res, ok := resp.(*fsm.Result)
	if !ok {
		return auth.Result{}, 0, fmt.Errorf("unexpected apply response %T", resp)
	}
	return res.Auth, index, res.Err
}
