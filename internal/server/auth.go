package server

import (
	"context"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
)

// AuthState is this member's view of users, roles and the enabled flag, as of
// its last applied entry.
func (s *Server) AuthState() *auth.State { return s.fsm.AuthState() }

// ApplyAuth replicates an auth change and returns what it produced, once
// applied here. Like Propose it fails with raftnode.ErrNotLeader, having
// proposed nothing, on a follower; refusals (auth.Error) are the command's
// outcome, the same on every member.
func (s *Server) ApplyAuth(ctx context.Context, c *auth.Command) (auth.Result, error) {
	if !s.raft.IsLeader() {
		return auth.Result{}, raftnode.ErrNotLeader
	}
	cmd, err := fsm.AuthCommand(c)
	if err != nil {
		return auth.Result{}, err
	}
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return auth.Result{}, err
	}
	return res.Auth, res.Err
}
