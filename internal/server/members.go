package server

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/hashicorp/raft"
)

// MemberInfo is a member as the cluster sees it: its raft role joined with its attributes.
type MemberInfo struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	Learner    bool     `json:"learner"`
	// Published by the member itself for smart clients.
	Rack                int      `json:"rack,omitempty"`
	AlternateClientURLs []string `json:"alternateClientURLs,omitempty"`
	QuorumPort          int      `json:"quorumPort,omitempty"`
	// Evacuated is set by an operator through POST /v1/cluster/members/{name}/state only.
	Evacuated bool `json:"-"`
}

// MemberIDString renders a member id as raft's server id (and etcd's wire form).
func MemberIDString(id uint64) string { return strconv.FormatUint(id, 16) }

// Members lists the members of the latest raft configuration, ordered by id as etcd does.
func (s *Server) Members() []MemberInfo {
	servers, err := s.raft.Servers()
	if err != nil {
		s.log.Warn("reading raft configuration", "err", err)
		return nil
	}
	meta := map[uint64]fsm.Member{}
	for _, m := range s.fsm.Members() {
		meta[m.ID] = m
	}
	out := make([]MemberInfo, 0, len(servers))
	for _, sv := range servers {
		id, err := strconv.ParseUint(string(sv.ID), 16, 64)
		if err != nil {
			continue
		}
		mi := MemberInfo{ID: id, Learner: sv.Suffrage == raft.Nonvoter}
		if m, ok := meta[id]; ok {
			mi.Name, mi.PeerURLs, mi.ClientURLs = m.Name, m.PeerURLs, m.ClientURLs
			mi.Rack, mi.AlternateClientURLs, mi.Evacuated = m.Rack, m.AlternateClientURLs, m.Evacuated
			mi.QuorumPort = m.QuorumPort
		}
		if len(mi.PeerURLs) == 0 {
			mi.PeerURLs = []string{s.cfg.PeerScheme + "://" + string(sv.Address)}
		}
		out = append(out, mi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) member(id uint64) (MemberInfo, bool) {
	for _, m := range s.Members() {
		if m.ID == id {
			return m, true
		}
	}
	return MemberInfo{}, false
}

// Leader is the current leader's member entry, if a leader is known.
func (s *Server) Leader() (MemberInfo, bool) {
	lid := s.raft.LeaderID()
	if lid == "" {
		return MemberInfo{}, false
	}
	id, err := strconv.ParseUint(lid, 16, 64)
	if err != nil {
		return MemberInfo{}, false
	}
	return s.member(id)
}

// WaitLeader returns the leader's peer URL, waiting while there is none, until ctx ends.
func (s *Server) WaitLeader(ctx context.Context) (string, error) {
	for {
		if addr := s.raft.LeaderAddr(); addr != "" {
			return s.cfg.PeerScheme + "://" + addr, nil
		}
		if !sleepCtx(ctx, retryPause) {
			return "", fmt.Errorf("%w after %v", ErrNoLeader, ctx.Err())
		}
	}
}

// NewMemberID derives an id for a member added at run time; the time makes a member that
// re-joins with the same URLs a new member, as in etcd.
func NewMemberID(peerURLs []string, clusterID uint64, now time.Time) uint64 {
	urls := slices.Clone(peerURLs)
	sort.Strings(urls)
	h := sha1.New()
	h.Write([]byte(strings.Join(urls, "")))
	_ = binary.Write(h, binary.BigEndian, clusterID)
	_ = binary.Write(h, binary.BigEndian, now.UnixNano())
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}

func peerAddr(peerURL string) (string, error) {
	u, err := url.Parse(peerURL)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

// AddMember adds a voter or a learner (etcd's `member add`): the attributes first, through the
// log, then the raft configuration; the new node then starts with --initial-cluster-state existing.
func (s *Server) AddMember(ctx context.Context, peerURLs []string, learner bool) (MemberInfo, error) {
	if !s.raft.IsLeader() {
		return MemberInfo{}, raftnode.ErrNotLeader
	}
	// Not while the cluster's level is being raised from the members' published levels: the
	// new member's would be missing from that look.
	s.levelMu.Lock()
	defer s.levelMu.Unlock()
	for _, m := range s.Members() {
		for _, u := range m.PeerURLs {
			if slices.Contains(peerURLs, u) {
				return MemberInfo{}, fmt.Errorf("%w: %s", ErrPeerURLExists, u)
			}
		}
	}
	addr, err := peerAddr(peerURLs[0])
	if err != nil {
		return MemberInfo{}, err
	}
	id := NewMemberID(peerURLs, s.cfg.ClusterID, time.Now())
	m := fsm.Member{ID: id, PeerURLs: peerURLs, Learner: learner}
	if err := s.proposeMember(ctx, fsm.CmdMemberSet, m); err != nil {
		return MemberInfo{}, err
	}
	if learner {
		err = s.raft.AddNonvoter(ctx, MemberIDString(id), addr)
	} else {
		err = s.raft.AddVoter(ctx, MemberIDString(id), addr)
	}
	if err != nil {
		// Leave no attributes behind for a member the configuration never got.
		if rerr := s.proposeMember(ctx, fsm.CmdMemberRemove, fsm.Member{ID: id}); rerr != nil {
			s.log.Warn("rolling back member attributes", "id", MemberIDString(id), "err", rerr)
		}
		return MemberInfo{}, err
	}
	return MemberInfo{ID: id, PeerURLs: peerURLs, ClientURLs: []string{}, Learner: learner}, nil
}

// RemoveMember removes a member, the leader included: hashicorp/raft commits the change and
// then the old leader steps down.
func (s *Server) RemoveMember(ctx context.Context, id uint64) error {
	if !s.raft.IsLeader() {
		return raftnode.ErrNotLeader
	}
	if _, ok := s.member(id); !ok {
		return fmt.Errorf("%w: %s", ErrMemberNotFound, MemberIDString(id))
	}
	if err := s.proposeMember(ctx, fsm.CmdMemberRemove, fsm.Member{ID: id}); err != nil {
		return err
	}
	return s.raft.Remove(ctx, MemberIDString(id))
}

// UpdateMember changes a member's peer URLs.
func (s *Server) UpdateMember(ctx context.Context, id uint64, peerURLs []string) error {
	if !s.raft.IsLeader() {
		return raftnode.ErrNotLeader
	}
	cur, ok := s.member(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrMemberNotFound, MemberIDString(id))
	}
	for _, m := range s.Members() {
		if m.ID == id {
			continue
		}
		for _, u := range m.PeerURLs {
			if slices.Contains(peerURLs, u) {
				return fmt.Errorf("%w: %s", ErrPeerURLExists, u)
			}
		}
	}
	addr, err := peerAddr(peerURLs[0])
	if err != nil {
		return err
	}
	m := s.fsmMember(id)
	m.PeerURLs = peerURLs
	if err := s.proposeMember(ctx, fsm.CmdMemberSet, m); err != nil {
		return err
	}
	if cur.Learner {
		return s.raft.AddNonvoter(ctx, MemberIDString(id), addr)
	}
	return s.raft.AddVoter(ctx, MemberIDString(id), addr)
}

// PromoteMember makes a learner a voter.
func (s *Server) PromoteMember(ctx context.Context, id uint64) error {
	if !s.raft.IsLeader() {
		return raftnode.ErrNotLeader
	}
	cur, ok := s.member(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrMemberNotFound, MemberIDString(id))
	}
	if !cur.Learner {
		return fmt.Errorf("%w: %s", ErrMemberNotLearner, MemberIDString(id))
	}
	if err := s.raft.Promote(ctx, MemberIDString(id)); err != nil {
		return err
	}
	m := s.fsmMember(id)
	m.Learner = false
	return s.proposeMember(ctx, fsm.CmdMemberSet, m)
}

// Publish records a member's own attributes (name, client URLs) through the log.
func (s *Server) Publish(ctx context.Context, mi MemberInfo) error {
	if !s.raft.IsLeader() {
		return raftnode.ErrNotLeader
	}
	m := s.fsmMember(mi.ID)
	m.Name, m.ClientURLs = mi.Name, mi.ClientURLs
	m.Rack, m.AlternateClientURLs, m.QuorumPort = mi.Rack, mi.AlternateClientURLs, mi.QuorumPort
	if len(mi.PeerURLs) > 0 {
		m.PeerURLs = mi.PeerURLs
	}
	return s.proposeMember(ctx, fsm.CmdMemberSet, m)
}

func (s *Server) fsmMember(id uint64) fsm.Member {
	for _, m := range s.fsm.Members() {
		if m.ID == id {
			return m
		}
	}
	if mi, ok := s.member(id); ok {
		return fsm.Member{ID: id, PeerURLs: mi.PeerURLs, Learner: mi.Learner}
	}
	return fsm.Member{ID: id}
}

func (s *Server) proposeMember(ctx context.Context, t fsm.CommandType, m fsm.Member) error {
	if !quorumPortPublishable(s.fsm.ClusterLevel()) {
		// A baseline member refuses a member entry that carries a quorum port.
		m.QuorumPort = 0
	}
	cmd := &fsm.Command{Type: t, Member: &m, Time: time.Now().UnixNano()}
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return err
	}
	return res.Err
}

// quorumPortPublishable: member entries carry a quorum port only from fsm.QuorumPortLevel on.
func quorumPortPublishable(l fsm.Level) bool { return l >= fsm.QuorumPortLevel }

// published reports whether the replicated member table already holds this node's attributes
// (its quorum port once the cluster's level allows it).
func (s *Server) published() bool {
	port := s.cfg.QuorumPort
	if !quorumPortPublishable(s.fsm.ClusterLevel()) {
		port = 0
	}
	for _, m := range s.fsm.Members() {
		if m.ID == s.cfg.MemberID {
			return m.Name == s.cfg.Name && slices.Equal(m.ClientURLs, s.cfg.ClientURLs) &&
				slices.Equal(m.PeerURLs, s.cfg.PeerURLs) && m.Rack == s.cfg.Rack &&
				slices.Equal(m.AlternateClientURLs, s.cfg.AlternateClientURLs) && m.QuorumPort == port
		}
	}
	return false
}

// publishLoop makes the cluster learn this node's name and client URLs, as etcd's members
// publish theirs, retrying until the leader has committed them. In a cluster still at the
// baseline level it publishes its quorum port later, once the cluster version has risen.
func (s *Server) publishLoop() {
	if !s.publishUntilCommitted() {
		return // stopping
	}
	s.readyOnce.Do(func() { close(s.ready) })
	if s.cfg.QuorumPort == 0 {
		return
	}
	for !quorumPortPublishable(s.fsm.ClusterLevel()) {
		if !s.sleep(retryPause * 10) {
			return
		}
	}
	_ = s.publishUntilCommitted()
}

// publishUntilCommitted reports false when the server stopped first.
func (s *Server) publishUntilCommitted() bool {
	for !s.published() {
		ctx, cancel := s.stopContext(5 * time.Second)
		err := s.publishOnce(ctx)
		cancel()
		if err != nil {
			s.log.Debug("publishing member attributes", "err", err)
		}
		// Let the committed entry reach this node before looking again.
		for i := 0; i < 10 && !s.published(); i++ {
			if !s.sleep(retryPause * 5) {
				return false
			}
		}
	}
	return true
}

func (s *Server) publishOnce(ctx context.Context) error {
	self := MemberInfo{ID: s.cfg.MemberID, Name: s.cfg.Name, PeerURLs: s.cfg.PeerURLs, ClientURLs: s.cfg.ClientURLs,
		Rack: s.cfg.Rack, AlternateClientURLs: s.cfg.AlternateClientURLs, QuorumPort: s.cfg.QuorumPort}
	if s.raft.IsLeader() {
		return s.Publish(ctx, self)
	}
	leader, err := s.WaitLeader(ctx)
	if err != nil {
		if own, others, stale := s.stalePeerURLs(); stale {
			// No leader reached this member, and the membership has it at another address:
			// back on another host, it tells the others where it is now. Only then: the raft
			// address of a member the leader reaches is left as it is (hashicorp/raft reads a
			// peer's entry unlocked while it replicates to it).
			s.log.Info("updating this member's peer URLs", "from", own, "to", s.cfg.PeerURLs)
			uctx, cancel := s.stopContext(5 * time.Second)
			defer cancel()
			return UpdateOwnPeerURLs(uctx, s.cfg.PeerClient, others, s.cfg.ClusterID, s.cfg.MemberID, s.cfg.PeerURLs)
		}
		return err
	}
	body, _ := json.Marshal(self)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, leader+PublishPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Etcd-Cluster-Id", strconv.FormatUint(s.cfg.ClusterID, 16))
	resp, err := s.cfg.PeerClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish to %s: %s: %s", leader, resp.Status, msg)
	}
	return nil
}
