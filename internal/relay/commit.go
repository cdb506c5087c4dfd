package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Commit notices. A follower learns the commit index from the leader's next AppendEntries,
// which raft sends only with new entries or after its commit timeout: when writes are sparse a
// follower applies a write that much later than the leader. A follower therefore keeps one
// commit-notice request open on its relay connection; the leader answers it as soon as it has
// applied past the index the follower last heard of, with its commit index and term, and the
// follower asks again at once. The relay only carries the two numbers; what they are worth is
// the caller's to decide.

// commitMarker opens a commit-notice body: no fsm command type, see the wire format.
const commitMarker = 0xFF

// CommitNotice is what a leader answered to WaitCommit.
type CommitNotice struct {
	Commit, Term uint64
}

// WaitCommit asks the member at addr to answer once it has applied an index above after (or
// before ctx ends, with what it has then). Errors are ReadIndex's: ErrNotLeader when the member
// said it does not lead, ErrUnsupported when it answered as a leader of an earlier build, the
// leader's own failure, or Do's. Asking again is always safe: the request changes nothing.
func (c *Client) WaitCommit(ctx context.Context, addr string, after uint64) (CommitNotice, error) {
	conn, err := c.conn(ctx, addr)
	if err != nil {
		return CommitNotice{}, err
	}
	body := binary.BigEndian.AppendUint64([]byte{commitMarker}, after)
	req := &Request{Flags: flagCommitWait, Body: body}
	if dl, ok := ctx.Deadline(); ok {
		req.Timeout = time.Until(dl)
	}
	r, err := conn.do(ctx, encodeRequest(req))
	if err != nil {
		return CommitNotice{}, err
	}
	switch r.kind {
	case kindCommit:
		return CommitNotice{Commit: binary.BigEndian.Uint64(r.Body), Term: binary.BigEndian.Uint64(r.Body[8:])}, nil
	case kindNotLeader:
		return CommitNotice{}, fmt.Errorf("%w: %s", ErrNotLeader, addr)
	case kindIndexError:
		return CommitNotice{}, fmt.Errorf("relay: commit notice from %s: %s", addr, r.Body)
	}
	return CommitNotice{}, fmt.Errorf("%w: %s takes no commit-notice request (kind %d, status %d)",
		ErrUnsupported, addr, r.kind, r.Status)
}

func (s *Server) commitNotice(ctx context.Context, id uint64, req *Request) []byte {
	if s.cfg.WaitCommit == nil || len(req.Body) != 9 || req.Body[0] != commitMarker {
		frame, _ := encodeReply(id, &Reply{Status: 501, Body: []byte("no commit notices over the relay here")})
		return frame
	}
	commit, term, err := s.cfg.WaitCommit(ctx, binary.BigEndian.Uint64(req.Body[1:]))
	return encodeCommitReply(id, commit, term, err)
}

// encodeCommitReply returns the whole frame answering commit-notice request id.
func encodeCommitReply(id, commit, term uint64, err error) []byte {
	kind := byte(kindCommit)
	body := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, commit), term)
	switch {
	case errors.Is(err, ErrNotLeader):
		kind, body = kindNotLeader, nil
	case err != nil:
		kind, body = kindIndexError, []byte(err.Error())
	}
	n := replyFixedLen + len(body)
	b := binary.BigEndian.AppendUint32(make([]byte, 0, frameHeaderLen+n), uint32(n))
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, kind, 0, 0, 0)
	return append(b, body...)
}
