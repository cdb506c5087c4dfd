package server

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-io/cairn/internal/raftnode"
)

// SelfStats is etcd's /v2/stats/self document.
type SelfStats struct {
	Name       string     `json:"name"`
	ID         string     `json:"id"`
	State      string     `json:"state"`
	StartTime  time.Time  `json:"startTime"`
	LeaderInfo LeaderInfo `json:"leaderInfo"`

	RecvAppendRequestCnt uint64 `json:"recvAppendRequestCnt"`
	// Receive rates are reported by followers and send rates by the leader, as etcd does.
	RecvPkgRate          *float64 `json:"recvPkgRate,omitempty"`
	RecvBandwidthRate    *float64 `json:"recvBandwidthRate,omitempty"`
	SendAppendRequestCnt uint64   `json:"sendAppendRequestCnt"`
	SendPkgRate          *float64 `json:"sendPkgRate,omitempty"`
	SendBandwidthRate    *float64 `json:"sendBandwidthRate,omitempty"`
}

// LeaderInfo says who leads and since when, as this node saw it.
type LeaderInfo struct {
	Leader    string    `json:"leader"`
	Uptime    string    `json:"uptime"`
	StartTime time.Time `json:"startTime"`
}

func (s *Server) SelfStats() any {
	lid := s.raft.LeaderID()
	s.mu.Lock()
	if lid != s.lastLeader {
		s.lastLeader, s.leaderSince = lid, time.Now()
	}
	since := s.leaderSince
	s.mu.Unlock()
	state := "StateFollower"
	if s.raft.IsLeader() {
		state = "StateLeader"
	}
	st := SelfStats{
		Name: s.cfg.Name, ID: MemberIDString(s.cfg.MemberID), State: state, StartTime: s.start,
		LeaderInfo: LeaderInfo{Leader: lid, StartTime: since, Uptime: time.Since(since).String()},
	}
	tr := s.raft.Traffic()
	st.RecvAppendRequestCnt, st.SendAppendRequestCnt = tr.RecvAppendRequests, tr.SendAppendRequests
	if state == "StateLeader" {
		st.SendPkgRate, st.SendBandwidthRate = &tr.SendPkgRate, &tr.SendBandwidthRate
	} else {
		st.RecvPkgRate, st.RecvBandwidthRate = &tr.RecvPkgRate, &tr.RecvBandwidthRate
	}
	return st
}

// LeaderStatsDoc is etcd's /v2/stats/leader document.
type LeaderStatsDoc struct {
	Leader    string                            `json:"leader"`
	Followers map[string]raftnode.FollowerStats `json:"followers"`
}

// LeaderStats is etcd's /v2/stats/leader; only the leader has it.
func (s *Server) LeaderStats() (any, error) {
	fs := s.raft.FollowerStats()
	if fs == nil {
		return nil, raftnode.ErrNotLeader
	}
	return LeaderStatsDoc{Leader: MemberIDString(s.cfg.MemberID), Followers: fs}, nil
}

// Health is etcd's health check: a leader exists and a linearizable read completes.
func (s *Server) Health(ctx context.Context) error {
	if s.raft.LeaderID() == "" {
		return ErrNoLeader
	}
	if err := s.ReadBarrier(ctx); err != nil {
		return fmt.Errorf("linearizable read: %w", err)
	}
	return nil
}
