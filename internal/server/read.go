package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/internal/raftnode"
)

// Peer-port paths: this package and node call them, httpapi serves them.
const (
	ReadIndexPath = "/cairn/peer/v1/readindex"
	PublishPath   = "/cairn/peer/v1/publish"
	ClusterPath   = "/cairn/peer/v1/cluster"
)

// ReadIndexer asks the leader for a read index over a path cheaper than an HTTP request (node
// wires the peer relay). Read-index requests change nothing, so a failed one is asked again,
// within the read's deadline, whatever went wrong (the member reached was not leader, the
// connection was lost before or after sending, the leader could not reach a quorum), except
// errors wrapping ErrClusterIDMismatch, which fail the read, or ErrReadIndexUnsupported, on
// which the read asks the leader over HTTP.
type ReadIndexer interface {
	// ReadIndex asks the member whose peer URL is leaderURL.
	ReadIndex(ctx context.Context, leaderURL string) (uint64, error)
}

// ErrReadIndexUnsupported: the leader takes no read-index requests through Config.ReadIndexer
// (a member of an earlier build, during a rolling upgrade).
var ErrReadIndexUnsupported = errors.New("the leader takes no read-index requests this way")

// retryPause spaces retries while leadership moves; each caller's context bounds the total.
const retryPause = 20 * time.Millisecond

// ReadBarrier returns once this node has applied everything committed before the call, without
// writing to the log: the leader confirms its leadership with a quorum (raftnode batches those
// rounds over concurrent reads); a follower asks the leader for that index. A node cut off from
// the majority cannot get an index and fails when ctx ends, instead of serving stale data.
func (s *Server) ReadBarrier(ctx context.Context) error {
	if unsafeReads {
		return nil
	}
	for {
		var idx uint64
		var err error
		if s.raft.IsLeader() {
			idx, err = s.raft.ReadIndex(ctx)
			if errors.Is(err, raftnode.ErrNotLeader) {
				continue
			}
		} else {
			idx, err = s.askReadIndex(ctx)
		}
		if err != nil {
			return s.timeoutErr(ctx, err)
		}
		if err := s.fsm.WaitApplied(ctx, idx); err != nil {
			return s.timeoutErr(ctx, err)
		}
		return nil
	}
}

// LeaderReadIndex serves a follower's request for a read index.
func (s *Server) LeaderReadIndex(ctx context.Context) (uint64, error) {
	return s.raft.ReadIndex(ctx)
}

func (s *Server) timeoutErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

type readIndexResponse struct {
	Index uint64 `json:"index"`
}

// askReadIndex asks the current leader for its read index, following leadership changes
// until ctx ends. Concurrent reads share one request (readBatcher).
func (s *Server) askReadIndex(ctx context.Context) (uint64, error) {
	for {
		r := s.reads.join()
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
		case <-r.done:
		}
		if r.err == nil {
			return r.idx, nil
		}
		if !r.retry {
			return 0, r.err
		}
		if !sleepCtx(ctx, retryPause) {
			return 0, fmt.Errorf("%w: %v", ErrTimeout, r.err)
		}
	}
}

// fetchReadIndex is one round of the batcher: find the leader, ask it.
func (s *Server) fetchReadIndex(ctx context.Context) (uint64, bool, error) {
	leader, err := s.WaitLeader(ctx)
	if err != nil {
		return 0, true, err
	}
	return s.readIndexFrom(ctx, leader)
}

func (s *Server) readIndexFrom(ctx context.Context, leaderURL string) (idx uint64, retry bool, err error) {
	if s.cfg.ReadIndexer != nil {
		idx, err := s.cfg.ReadIndexer.ReadIndex(ctx, leaderURL)
		switch {
		case err == nil:
			return idx, false, nil
		case errors.Is(err, ErrClusterIDMismatch):
			return 0, false, err
		case !errors.Is(err, ErrReadIndexUnsupported):
			return 0, true, err
		}
	}
	return s.readIndexOverHTTP(ctx, leaderURL)
}

func (s *Server) readIndexOverHTTP(ctx context.Context, leaderURL string) (idx uint64, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, leaderURL+ReadIndexPath, nil)
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("X-Etcd-Cluster-Id", strconv.FormatUint(s.cfg.ClusterID, 16))
	resp, err := s.cfg.PeerClient.Do(req)
	if err != nil {
		return 0, true, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusPreconditionFailed {
			return 0, false, fmt.Errorf("%w: %s", ErrClusterIDMismatch, body)
		}
		return 0, true, fmt.Errorf("read index from %s: %s: %s", leaderURL, resp.Status, body)
	}
	var out readIndexResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, false, fmt.Errorf("read index from %s: %v", leaderURL, err)
	}
	return out.Index, false, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
