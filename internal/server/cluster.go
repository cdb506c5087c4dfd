package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
)

// LivenessPath is the peer-port path where a node reports its applied index and, on the
// leader, how long it has gone without hearing from each member.
const LivenessPath = "/cairn/peer/v1/liveness"

// ErrInvalidAction means a member state change asked for something other than evacuate or restore.
var ErrInvalidAction = errors.New(`invalid action: want "evacuate" or "restore"`)

// Liveness is the answer at LivenessPath.
type Liveness struct {
	AppliedIndex uint64 `json:"applied_index"`
	// Leader is set only when the answering node leads; SilentMillis then holds, per member
	// id, the milliseconds since the leader last heard from that member.
	Leader       bool             `json:"leader"`
	SilentMillis map[string]int64 `json:"silent_ms,omitempty"`
}

// liveness tracks, on the leader, when each follower last answered an AppendEntries: raftnode
// counts successful round trips per follower, and a count that grew means contact since the
// previous look.
type liveness struct {
	mu           sync.Mutex
	leaderSince  time.Time
	seen         map[string]contact
	lastTransfer time.Time
}

type contact struct {
	count uint64
	at    time.Time
}

// livenessLoop samples the follower counters several times per OfflineAfter, and moves
// leadership away from an evacuated leader (an election may hand it back after a restore was
// undone or a restart).
func (s *Server) livenessLoop() {
	every := max(s.cfg.OfflineAfter/8, 10*time.Millisecond)
	for s.sleep(every) {
		s.sampleLiveness(time.Now())
		if s.raft.IsLeader() && s.selfEvacuated() && s.otherVoter() {
			s.live.mu.Lock()
			due := time.Since(s.live.lastTransfer) > s.cfg.OfflineAfter
			if due {
				s.live.lastTransfer = time.Now()
			}
			s.live.mu.Unlock()
			if due {
				ctx, cancel := s.stopContext(s.cfg.OfflineAfter)
				if err := s.raft.TransferLeadership(ctx); err != nil {
					s.log.Warn("moving leadership off an evacuated member", "err", err)
				}
				cancel()
			}
		}
	}
}

func (s *Server) sampleLiveness(now time.Time) {
	fs := s.raft.FollowerStats()
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	if fs == nil {
		s.live.leaderSince, s.live.seen = time.Time{}, nil
		return
	}
	if s.live.leaderSince.IsZero() {
		s.live.leaderSince, s.live.seen = now, map[string]contact{}
	}
	for id, st := range fs {
		c := st.Counts.Success
		prev, ok := s.live.seen[id]
		switch {
		case !ok && c > 0:
			s.live.seen[id] = contact{count: c, at: now}
		case !ok:
			s.live.seen[id] = contact{at: s.live.leaderSince}
		case c != prev.count:
			s.live.seen[id] = contact{count: c, at: now}
		}
	}
}

// silence reports, on the leader, how long since it last heard from each member; nil on a
// follower.
func (s *Server) silence(now time.Time) map[string]time.Duration {
	if !s.raft.IsLeader() {
		return nil
	}
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	since := s.live.leaderSince
	if since.IsZero() {
		since = now
	}
	out := map[string]time.Duration{}
	for _, m := range s.Members() {
		id := MemberIDString(m.ID)
		switch c, ok := s.live.seen[id]; {
		case m.ID == s.cfg.MemberID:
			out[id] = 0
		case ok:
			out[id] = now.Sub(c.at)
		default:
			out[id] = now.Sub(since)
		}
	}
	return out
}

// LocalLiveness is this node's answer at LivenessPath.
func (s *Server) LocalLiveness() Liveness {
	l := Liveness{AppliedIndex: s.fsm.AppliedIndex()}
	if sil := s.silence(time.Now()); sil != nil {
		l.Leader = true
		l.SilentMillis = map[string]int64{}
		for id, d := range sil {
			l.SilentMillis[id] = d.Milliseconds()
		}
	}
	return l
}

func (s *Server) selfEvacuated() bool {
	for _, m := range s.fsm.Members() {
		if m.ID == s.cfg.MemberID {
			return m.Evacuated
		}
	}
	return false
}

// otherVoter reports whether a voter other than this node, not evacuated, exists.
func (s *Server) otherVoter() bool {
	for _, m := range s.Members() {
		if m.ID != s.cfg.MemberID && !m.Learner && !m.Evacuated {
			return true
		}
	}
	return false
}

// askLiveness fetches a member's Liveness from its peer port.
func (s *Server) askLiveness(ctx context.Context, peerURL string) (Liveness, error) {
	var l Liveness
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(peerURL, "/")+LivenessPath, nil)
	if err != nil {
		return l, err
	}
	req.Header.Set("X-Etcd-Cluster-Id", strconv.FormatUint(s.cfg.ClusterID, 16))
	resp, err := s.cfg.PeerClient.Do(req)
	if err != nil {
		return l, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return l, fmt.Errorf("liveness from %s: %s", peerURL, resp.Status)
	}
	return l, json.Unmarshal(body, &l)
}

// peerProbe bounds how long a view waits for another member's peer port.
const peerProbe = 300 * time.Millisecond

// clusterView is the membership as this node can tell it, with statuses and the generation.
type clusterView struct {
	leader  MemberInfo
	hasLead bool
	members []api.ClusterMember
	gen     uint64
}

// view builds the cluster view. Offline needs the leader's knowledge: the leader uses its
// own, a follower asks the leader, and a follower that cannot reach one says so in each
// member's message.
func (s *Server) view(ctx context.Context) clusterView {
	now := time.Now()
	ms := s.Members()
	leader, hasLead := s.Leader()
	sil := s.silence(now)
	unknown := ""
	switch {
	case sil != nil:
	case !hasLead:
		unknown = fmt.Sprintf("no leader known to %s", s.cfg.Name)
	default:
		pctx, cancel := context.WithTimeout(ctx, peerProbe)
		l, err := s.askLiveness(pctx, s.cfg.PeerScheme+"://"+s.raft.LeaderAddr())
		cancel()
		if err != nil || !l.Leader {
			unknown = fmt.Sprintf("%s cannot ask the leader %s", s.cfg.Name, leader.Name)
			break
		}
		sil = map[string]time.Duration{}
		for id, v := range l.SilentMillis {
			sil[id] = time.Duration(v) * time.Millisecond
		}
	}
	v := clusterView{leader: leader, hasLead: hasLead}
	h := fnv.New64a()
	if hasLead {
		h.Write([]byte(leader.Name))
	}
	for _, m := range ms {
		if m.ID == s.cfg.MemberID && m.Name == "" {
			// Its own attributes may not have reached this node's log yet; it knows them anyway.
			m.Name, m.ClientURLs, m.PeerURLs = s.cfg.Name, s.cfg.ClientURLs, s.cfg.PeerURLs
			m.Rack, m.AlternateClientURLs, m.QuorumPort = s.cfg.Rack, s.cfg.AlternateClientURLs, s.cfg.QuorumPort
		}
		cm := api.ClusterMember{ServerName: m.Name, ID: MemberIDString(m.ID), Database: !m.Learner,
			FailureDomain: m.Rack, URL: first(m.ClientURLs), AlternateURL: first(m.AlternateClientURLs),
			URLs: listOf(m.ClientURLs), AlternateURLs: listOf(m.AlternateClientURLs), PeerURL: first(m.PeerURLs),
			QuorumPort: m.QuorumPort}
		switch {
		case m.Learner:
			cm.Roles = []string{api.RoleStandby}
		case hasLead && m.ID == leader.ID:
			cm.Roles = []string{api.RoleLeader, api.RoleVoter}
		default:
			cm.Roles = []string{api.RoleVoter}
		}
		cm.Status, cm.Message = s.status(m, leader, sil, unknown)
		if m.ID == s.cfg.MemberID {
			cm.AppliedIndex = s.fsm.AppliedIndex()
		}
		v.members = append(v.members, cm)
		h.Write([]byte(strings.Join([]string{cm.ID, cm.ServerName, strings.Join(m.ClientURLs, ","),
			strings.Join(m.AlternateClientURLs, ","), strings.Join(m.PeerURLs, ","),
			strings.Join(cm.Roles, ","), cm.Status, strconv.Itoa(cm.FailureDomain), strconv.Itoa(cm.QuorumPort)}, "\x00")))
		h.Write([]byte{0xff})
	}
	v.gen = binary.BigEndian.Uint64(h.Sum(nil))
	return v
}

func (s *Server) status(m MemberInfo, leader MemberInfo, sil map[string]time.Duration, unknown string) (string, string) {
	id := MemberIDString(m.ID)
	switch {
	case m.Evacuated:
		return api.StatusEvacuated, "evacuated by an operator: clients send it no requests"
	case unknown != "" && m.ID == s.cfg.MemberID:
		return api.StatusBlocked, unknown + ": it cannot serve writes or linearizable reads"
	case unknown != "":
		return api.StatusOffline, "status unknown: " + unknown
	case sil[id] > s.cfg.OfflineAfter:
		return api.StatusOffline, fmt.Sprintf("the leader %s has not heard from it for %v",
			leader.Name, sil[id].Round(time.Millisecond))
	case m.Name == "" || len(m.ClientURLs) == 0:
		return api.StatusBlocked, "it has not published its name and client URLs yet"
	}
	return api.StatusOnline, "fully operational"
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// listOf copies s so that the view never shares a member record's slice, and gives an empty
// list rather than null on the wire.
func listOf(s []string) []string { return append([]string{}, s...) }

// ClusterInfo is GET /v1/cluster.
func (s *Server) ClusterInfo(ctx context.Context) api.Cluster {
	v := s.view(ctx)
	self, member := s.fsm.Member(s.cfg.MemberID)
	out := api.Cluster{ServerName: s.cfg.Name, Enabled: member && !self.Evacuated, ClusterName: s.cfg.ClusterName,
		ClusterID: MemberIDString(s.cfg.ClusterID), Generation: v.gen, AppliedIndex: s.fsm.AppliedIndex()}
	if v.hasLead {
		out.Leader = v.leader.Name
	}
	var initial []string
	for _, m := range v.members {
		if m.ServerName != "" && m.PeerURL != "" {
			initial = append(initial, m.ServerName+"="+m.PeerURL)
		}
	}
	out.MemberConfig = []api.MemberConfigKey{
		{Entity: "cluster", Key: "cluster-name", Value: s.cfg.ClusterName,
			Description: "--cluster-name a new member must be started with"},
		{Entity: "cluster", Key: "initial-cluster", Value: strings.Join(initial, ","),
			Description: "--initial-cluster of a new member: these plus its own name=peerURL"},
		{Entity: "cluster", Key: "initial-cluster-state", Value: "existing",
			Description: "a member added at run time joins the running cluster"},
	}
	return out
}

// ClusterMembers is GET /v1/cluster/members: the view, with each reachable member's applied
// index asked from it at once.
func (s *Server) ClusterMembers(ctx context.Context) api.ClusterMembers {
	v := s.view(ctx)
	var wg sync.WaitGroup
	for i := range v.members {
		m := &v.members[i]
		if m.ID == MemberIDString(s.cfg.MemberID) || m.PeerURL == "" || m.Status == api.StatusOffline {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, peerProbe)
			defer cancel()
			if l, err := s.askLiveness(pctx, m.PeerURL); err == nil {
				m.AppliedIndex = l.AppliedIndex
			}
		}()
	}
	wg.Wait()
	return api.ClusterMembers{Generation: v.gen, Members: v.members}
}

// ClusterMember is GET /v1/cluster/members/{name}.
func (s *Server) ClusterMember(ctx context.Context, name string) (api.ClusterMember, error) {
	for _, m := range s.ClusterMembers(ctx).Members {
		if m.ServerName == name {
			return m, nil
		}
	}
	return api.ClusterMember{}, fmt.Errorf("%w: %s", ErrMemberNotFound, name)
}

// SetMemberState evacuates or restores a member (leader only). Evacuation is recorded first,
// while this node can still propose, and then leadership moves if the member held it; a
// member that is the only voter cannot be evacuated, since nobody could take over.
func (s *Server) SetMemberState(ctx context.Context, name, action string) error {
	if action != api.ActionEvacuate && action != api.ActionRestore {
		return fmt.Errorf("%w: %q", ErrInvalidAction, action)
	}
	if !s.raft.IsLeader() {
		return raftnode.ErrNotLeader
	}
	var target *MemberInfo
	ms := s.Members()
	for i := range ms {
		// This node knows its own name even before its published attributes are applied.
		if ms[i].Name == name || (ms[i].ID == s.cfg.MemberID && name == s.cfg.Name) {
			target = &ms[i]
		}
	}
	if target == nil {
		return fmt.Errorf("%w: %s", ErrMemberNotFound, name)
	}
	self := target.ID == s.cfg.MemberID
	if action == api.ActionEvacuate && self && !s.otherVoter() {
		return fmt.Errorf("%w: %s leads and no other voter can take over", ErrUnhealthy, name)
	}
	m := s.fsmMember(target.ID)
	m.Evacuated = action == api.ActionEvacuate
	if err := s.proposeMember(ctx, fsm.CmdMemberSet, m); err != nil {
		return err
	}
	if m.Evacuated && self {
		s.live.mu.Lock()
		s.live.lastTransfer = time.Now()
		s.live.mu.Unlock()
		if err := s.raft.TransferLeadership(ctx); err != nil {
			return fmt.Errorf("%s is marked evacuated but kept leadership: %w", name, err)
		}
	}
	return nil
}
