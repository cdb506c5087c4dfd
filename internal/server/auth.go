package server

import (
	"context"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
)

// AuthState is this member's view of users, roles and the enabled flag, as of
// its last applied entry.
func (s *Server) AuthState() *auth.State { return s.fsm.AuthState() }

// ApplyAuth replicates the auth change build makes and returns what it
// produced, once applied here. build runs only on the
// leader, so what it costs (a password hash) is paid where the command is
// proposed. Like Propose it fails with raftnode.ErrNotLeader, having built
// and proposed nothing, on a follower; refusals (auth.Error) are the
// command's outcome, the same on every member. While a member may be of a build without auth
// it fails with ErrClusterVersionTooLow, having built and proposed nothing.
func (s *Server) ApplyAuth(ctx context.Context, build func() (*auth.Command, error)) (auth.Result, error) {
	if !s.raft.IsLeader() {
		return auth.Result{}, raftnode.ErrNotLeader
	}
	// Before build, which may hash a password: a refusal costs nothing.
	if err := s.admit(ctx, &fsm.Command{Type: fsm.CmdAuth}); err != nil {
		return auth.Result{}, err
	}
	c, err := build()
	if err != nil {
		return auth.Result{}, err
	}
	cmd, err := fsm.AuthCommand(c)
	if err != nil {
		return auth.Result{}, err
	}
	cmd.Time = time.Now().UnixNano()
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return auth.Result{}, err
	}
	return res.Auth, res.Err
}
