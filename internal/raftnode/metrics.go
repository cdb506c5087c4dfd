package raftnode

import (
	"io"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/hashicorp/raft"
)

// measuredSnapshots times every snapshot written (ours, and those a leader installs here) and
// records its size, whatever the FSM writes into it.
type measuredSnapshots struct {
	raft.SnapshotStore
	m *metrics.Set
}

func (s *measuredSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &measuredSink{SnapshotSink: sink, m: s.m, start: time.Now()}, nil
}

type measuredSink struct {
	raft.SnapshotSink
	m     *metrics.Set
	start time.Time
	size  int64
}

func (s *measuredSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	s.size += int64(n)
	return n, err
}

func (s *measuredSink) Close() error {
	err := s.SnapshotSink.Close()
	if err == nil {
		s.m.SnapshotDuration.Observe(metrics.Since(s.start))
		s.m.SnapshotSize.Set(float64(s.size))
	}
	return err
}

var _ io.Writer = (*measuredSink)(nil)

// countLeaderChanges counts, as etcd does, every time the known leader becomes a member other
// than the one known before (an election won by the same member again after a gap counts too).
func (n *Node) countLeaderChanges() {
	defer n.wg.Done()
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	var last raft.ServerID
	if _, id := n.raft.LeaderWithID(); id != "" {
		last = id
		n.cfg.Metrics.LeaderChanges.Inc()
	}
	for {
		select {
		case <-n.stopCh:
			return
		case o := <-ch:
			id := o.Data.(raft.LeaderObservation).LeaderID
			if id != "" && id != last {
				n.cfg.Metrics.LeaderChanges.Inc()
			}
			last = id
		}
	}
}

// RaftAppliedIndex is raft's own applied index: every entry handed to the FSM, no-ops and
// configuration changes included (etcd's proposals applied).
func (n *Node) RaftAppliedIndex() uint64 { return n.raft.AppliedIndex() }

// IsLearner reports whether this member is in the configuration without a vote.
func (n *Node) IsLearner() bool {
	servers, err := n.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if string(s.ID) == n.cfg.ID {
			return s.Suffrage == raft.Nonvoter
		}
	}
	return false
}
