package quorum

import (
	"encoding/json"
	"errors"
	"net/netip"

	wire "github.com/cairn-io/cairn/api/quorum"
)

// handle checks one datagram and answers it if it passes every check. Checks run cheapest
// first; a failing packet costs no allocation and gets no reply.
func (s *Server) handle(pkt []byte, from netip.AddrPort) {
	s.counters.received.Add(1)
	s.counters.promReceived.Inc()
	if len(pkt) > s.cfg.MaxPacketSize {
		s.counters.drop(dropOversized)
		return
	}
	if err := s.codec.DecodeRequest(pkt, &s.req); err != nil {
		switch {
		case errors.Is(err, wire.ErrVersion):
			s.counters.drop(dropVersion)
		case errors.Is(err, wire.ErrMAC):
			s.counters.drop(dropBadMAC)
		default:
			s.counters.drop(dropGarbage)
		}
		return
	}
	now := s.cfg.Now().UnixNano()
	window := s.cfg.Window.Nanoseconds()
	if s.req.Timestamp < now-window || s.req.Timestamp > now+window {
		s.counters.drop(dropStale)
		return
	}
	switch s.replay.check(s.req.Salt, s.req.Timestamp+window, now) {
	case saltReplayed:
		s.counters.drop(dropReplayed)
		return
	case cacheFull:
		s.counters.drop(dropCacheFull)
		return
	}

	reply := s.answer(&s.req)
	out, err := s.codec.AppendReply(s.out[:0], &reply)
	if err == nil && len(out) > wire.MaxDatagram {
		err = wire.ErrTooLong
	}
	if err != nil {
		reply.Status, reply.Answer = wire.StatusError, []byte("answer too large for one datagram")
		out, _ = s.codec.AppendReply(s.out[:0], &reply)
	}
	// Keep the grown buffer for the next reply, but not a one-off huge one.
	if cap(out) <= 16<<10 {
		s.out = out[:0]
	}
	if _, err := s.conn.WriteToUDPAddrPort(out, from); err != nil {
		s.counters.sendErrors.Add(1)
		s.cfg.Logger.Debug("quorum: reply not sent", "to", from.String(), "err", err)
		return
	}
	s.counters.answered.Add(1)
	s.counters.promReplies.WithLabelValues(s.req.Type.String(), reply.Status.String()).Inc()
}

// answer computes the reply to an authenticated request. The index is read first so that
// it never exceeds the state the answer comes from.
func (s *Server) answer(req *wire.Request) wire.Reply {
	r := wire.Reply{Salt: req.Salt, Index: s.src.AppliedIndex(), Node: s.src.Name(), Status: wire.StatusOK}
	var v any
	switch req.Type {
	case wire.QueryPing:
		v = true
	case wire.QueryKey:
		value, modified, found, err := s.src.GetKey(req.Query)
		if err != nil {
			r.Status, r.Answer = wire.StatusError, []byte(err.Error())
			return r
		}
		a := wire.KeyAnswer{Key: req.Query, Found: found}
		if found {
			a.Value, a.ModifiedIndex = value, modified
		}
		v = a
	case wire.QueryLeader:
		var a wire.LeaderAnswer
		if name, url, ok := s.src.Leader(); ok {
			a = wire.LeaderAnswer{Known: true, Name: name, URL: url}
		}
		v = a
	case wire.QueryMembers:
		v = sortedMembers(s.src.Members())
	case wire.QueryNodeRole:
		a := wire.NodeRoleAnswer{Name: req.Query}
		for _, m := range s.src.Members() {
			if m.Name == req.Query {
				a.Found, a.Role = true, m.Role
				break
			}
		}
		v = a
	default:
		r.Status, r.Answer = wire.StatusNotImplemented, []byte("unsupported query type: "+req.Type.String())
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		r.Status, r.Answer = wire.StatusError, []byte("encode answer: "+err.Error())
		return r
	}
	r.Answer = b
	return r
}
