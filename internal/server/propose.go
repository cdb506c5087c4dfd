package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/store"
)

// Propose stamps the leader's clock on cmd (DESIGN rule 2: expiry follows the leader's time
// carried in the log) and replicates it. It answers once the entry is applied here.
func (s *Server) Propose(ctx context.Context, cmd *fsm.Command) (*store.Event, error) {
	if !s.raft.IsLeader() {
		return nil, raftnode.ErrNotLeader
	}
	if err := dropWrite(ctx); err != nil {
		return nil, err
	}
	cmd.Time = time.Now().UnixNano()
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return res.Event, res.Err
}

func (s *Server) apply(ctx context.Context, cmd *fsm.Command) (*fsm.Result, error) {
	if err := s.admit(ctx, cmd); err != nil {
		return nil, err
	}
	if cmd.Batchable() && s.batchesAllowed() {
		res, err := s.writes.propose(ctx, cmd.Marshal())
		return res, mapApplyErr(err)
	}
	resp, _, err := s.raft.Apply(ctx, cmd.Marshal())
	if err != nil {
		return nil, mapApplyErr(err)
	}
	return singleResult(resp)
}

// batchesAllowed says whether every member can apply a batch entry.
func (s *Server) batchesAllowed() bool { return s.fsm.ClusterLevel() >= fsm.LevelBatch }

// applyEntry is the writeBatcher's way to raft.
func (s *Server) applyEntry(ctx context.Context, data []byte, proposals int) (interface{}, error) {
	resp, _, err := s.raft.ApplyProposals(ctx, data, proposals)
	return resp, err
}

// mapApplyErr turns a context deadline into ErrTimeout, which httpapi answers as etcd does.
func mapApplyErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}
