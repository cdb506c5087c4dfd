package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/version"
)

// Cluster version, as etcd has it: each member publishes the level its build speaks
// (fsm.Level) at VersionPath on its peer port; the leader reads every member's, and once the
// lowest is above the cluster's level it raises the cluster's level through the log
// (fsm.CmdClusterVersion), which only ever rises. A command is proposed only when the cluster's
// level covers its type (admit), so a member of an earlier build, during a rolling upgrade,
// never meets an entry it cannot apply. A member of a build before cluster versions publishes
// nothing: it counts as fsm.LevelBaseline, and so does a member that does not answer, since
// its build is unknown.

// VersionPath is the peer-port path where a member publishes its build and level.
const VersionPath = "/cairn/peer/v1/version"

// MemberVersion is the answer at VersionPath.
type MemberVersion struct {
	Server string    `json:"cairnserver"`
	Level  fsm.Level `json:"level"`
}

// LocalVersion is what this member publishes.
func (s *Server) LocalVersion() MemberVersion {
	return MemberVersion{Server: version.String(), Level: fsm.CurrentLevel}
}

// ClusterLevel is the cluster's level as of this member's last applied entry.
func (s *Server) ClusterLevel() fsm.Level { return s.fsm.ClusterLevel() }

// versionPollTimeout bounds one look at the members' levels: a member that does not answer
// within it counts as the baseline.
const versionPollTimeout = time.Second

// admit refuses a command the cluster's level does not cover.
func admit(cmd *fsm.Command, cluster fsm.Level) error {
	if need := cmd.Level(); need > cluster {
		return fmt.Errorf("%w: %v commands need cluster version %v, the cluster is at %v", ErrClusterVersionTooLow, cmd.Type, need, cluster)
	}
	return nil
}

// lowestLevel is the level every member of ids can apply, and the members below want: a
// member missing from published counts as fsm.LevelBaseline.
func lowestLevel(ids []uint64, published map[uint64]fsm.Level, want fsm.Level) (fsm.Level, []uint64) {
	lowest := fsm.CurrentLevel
	var below []uint64
	for _, id := range ids {
		l, ok := published[id]
		if !ok || l < fsm.LevelBaseline {
			l = fsm.LevelBaseline
		}
		lowest = min(lowest, l)
		if l < want {
			below = append(below, id)
		}
	}
	return lowest, below
}

// admit is the gate on every proposal. A command the cluster's level does not cover is refused,
// unless every member already publishes a level that does: the leader then raises the level
// first, so that the first auth request on a new cluster need not wait for versionLoop.
func (s *Server) admit(ctx context.Context, cmd *fsm.Command) error {
	err := admit(cmd, s.fsm.ClusterLevel())
	if err == nil {
		return nil
	}
	below, rerr := s.raiseLevel(ctx)
	if err := admit(cmd, s.fsm.ClusterLevel()); err == nil {
		return nil
	}
	switch {
	case len(below) > 0:
		return fmt.Errorf("%w; members of an earlier build, or not answering: %s", err, strings.Join(below, ", "))
	case rerr != nil:
		return fmt.Errorf("%w; raising it failed: %v", err, rerr)
	}
	return err
}

// raiseLevel, on the leader, reads every member's published level and raises the cluster's to
// the lowest of them when that is higher. It returns the members (names, or ids when unnamed)
// that hold the level below this build's. levelMu keeps a member from being added between
// the look and the proposal.
func (s *Server) raiseLevel(ctx context.Context) ([]string, error) {
	s.levelMu.Lock()
	defer s.levelMu.Unlock()
	cur := s.fsm.ClusterLevel()
	if cur >= fsm.CurrentLevel {
		return nil, nil
	}
	if !s.raft.IsLeader() {
		return nil, ErrNotLeaderForLevel
	}
	members := s.Members()
	ids := make([]uint64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	published := s.pollLevels(ctx, members)
	lowest, below := lowestLevel(ids, published, fsm.CurrentLevel)
	var names []string
	for _, id := range below {
		i := slices.IndexFunc(members, func(m MemberInfo) bool { return m.ID == id })
		if members[i].Name != "" {
			names = append(names, members[i].Name)
		} else {
			names = append(names, MemberIDString(id))
		}
	}
	if lowest <= cur {
		return names, nil
	}
	cmd := fsm.ClusterVersionCommand(lowest)
	cmd.Time = time.Now().UnixNano()
	// Not through apply: admit would refuse it, the cluster's level being below the command's
	// own until it is applied; every member has just said it can apply it.
	resp, _, err := s.raft.Apply(ctx, cmd.Marshal())
	if err != nil {
		return names, mapApplyErr(err)
	}
	if res, ok := resp.(*fsm.Result); ok && res.Err != nil {
		return names, res.Err
	}
	s.log.Info("cluster version raised", "from", cur, "to", lowest)
	return names, nil
}

// pollLevels asks every other member for its level, all at once, within versionPollTimeout.
// A member that answers 404 is of a build before cluster versions; one that does not answer
// is left out; either way it counts as the baseline.
func (s *Server) pollLevels(ctx context.Context, members []MemberInfo) map[uint64]fsm.Level {
	ctx, cancel := context.WithTimeout(ctx, versionPollTimeout)
	defer cancel()
	out := map[uint64]fsm.Level{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.ID == s.cfg.MemberID {
			mu.Lock()
			out[m.ID] = fsm.CurrentLevel
			mu.Unlock()
			continue
		}
		if len(m.PeerURLs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mv, err := s.memberVersion(ctx, m.PeerURLs[0])
			if err != nil {
				s.log.Debug("reading a member's version", "member", m.Name, "err", err)
				return
			}
			mu.Lock()
			out[m.ID] = mv.Level
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (s *Server) memberVersion(ctx context.Context, peerURL string) (MemberVersion, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, peerURL+VersionPath, nil)
	if err != nil {
		return MemberVersion{}, err
	}
	req.Header.Set("X-Etcd-Cluster-Id", strconv.FormatUint(s.cfg.ClusterID, 16))
	resp, err := s.cfg.PeerClient.Do(req)
	if err != nil {
		return MemberVersion{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return MemberVersion{}, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return MemberVersion{Level: fsm.LevelBaseline}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return MemberVersion{}, fmt.Errorf("%s%s: %s: %s", peerURL, VersionPath, resp.Status, body)
	}
	var mv MemberVersion
	if err := json.Unmarshal(body, &mv); err != nil {
		return MemberVersion{}, fmt.Errorf("%s%s: %v", peerURL, VersionPath, err)
	}
	return mv, nil
}

// versionLoop raises the cluster's level, on the leader, once every member publishes a higher
// one: a rolling upgrade ends with the cluster at the new level without any request asking.
// It looks only while the level is below this build's, so a settled cluster pays nothing.
//
// A member that is not leader looks twenty times as often whether it has become one, so that a
// new leader (a new cluster's first, above all) raises the level within moments: until then its
// snapshots are written in the baseline format, which has no event history.
func (s *Server) versionLoop() {
	quick := s.cfg.VersionCheckInterval / 20
	wait := quick
	for s.sleep(wait) {
		if s.fsm.ClusterLevel() >= fsm.CurrentLevel {
			wait = s.cfg.VersionCheckInterval // settled: nothing to watch for closely
			continue
		}
		if !s.raft.IsLeader() {
			wait = quick
			continue
		}
		wait = s.cfg.VersionCheckInterval
		ctx, cancel := s.stopContext(s.cfg.RequestTimeout)
		below, err := s.raiseLevel(ctx)
		cancel()
		if err != nil || len(below) > 0 {
			s.log.Debug("cluster version stays", "level", s.fsm.ClusterLevel(), "below", below, "err", err)
		}
	}
}
