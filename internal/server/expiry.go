package server

import (
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
)

// expiryLoop runs on every node and acts only while it leads: when the earliest TTL in the
// store has passed by the leader's clock, it proposes one Expire command carrying that time, so
// every replica expires the same keys at the same log index (DESIGN rule 2). A new leader picks
// up where the old one stopped, with its own clock; keys never expire on a follower's say-so.
func (s *Server) expiryLoop() {
	for {
		wait := s.cfg.ExpiryInterval
		if s.raft.IsLeader() {
			if next, ok := s.store.NextExpiration(); ok {
				now := time.Now()
				if !next.After(now) {
					s.proposeExpire(now)
					continue
				}
				if d := next.Sub(now); d < wait {
					wait = d
				}
			}
		}
		if !s.sleep(wait) {
			return
		}
	}
}

func (s *Server) proposeExpire(now time.Time) {
	ctx, cancel := s.stopContext(5 * time.Second)
	defer cancel()
	cmd := &fsm.Command{Type: fsm.CmdExpire, Time: now.UnixNano()}
	if _, err := s.apply(ctx, cmd); err != nil {
		s.log.Debug("proposing expiry", "err", err)
		s.sleep(s.cfg.ExpiryInterval)
	}
}
