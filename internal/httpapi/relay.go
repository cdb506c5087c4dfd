package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/relay"
	"github.com/cairn-io/cairn/internal/server"
)

// A follower relays a keys write to the leader as the encoded fsm.Command it built, plus the
// one rendering choice the command does not carry; the leader proposes it and sends back the
// status, headers and body its own serveWrite would have written. Those are the bytes the
// HTTP relay used to copy back (relayedHeaders), so clients see no difference.

// relayNoValue: the client asked for noValueOnSuccess.
const relayNoValue = 1 << 0

// relayBodyLimit bounds an encoded command: a key, plus a value and a prevValue that come
// from a body under MaxRequestBytes or from a query under net/http's header limit.
func relayBodyLimit(l Limits) int {
	return l.MaxKeyBytes + int(l.MaxRequestBytes) + http.DefaultMaxHeaderBytes + 8192
}

// RelayServer returns the leader's side of the keys-write relay for this handler's node.
// The caller serves it on raftnode's RelayListener and closes it on shutdown.
func (h *Handler) RelayServer() *relay.Server {
	return relay.NewServer(relay.ServerConfig{ClusterID: h.b.ClusterID(), MaxBody: relayBodyLimit(h.cfg.Limits),
		Timeout: h.cfg.RequestTimeout, Handle: h.serveRelay, ReadIndex: h.relayReadIndex,
		WaitCommit: h.relayWaitCommit, Logger: h.log, Metrics: h.metrics.set})
}

// relayReadIndex is serveReadIndex for the relay.
func (h *Handler) relayReadIndex(ctx context.Context) (uint64, error) {
	idx, err := h.b.LeaderReadIndex(ctx)
	if isNotLeader(err) {
		return 0, fmt.Errorf("%w: %w", relay.ErrNotLeader, err)
	}
	return idx, err
}

// relayWaitCommit is LeaderWaitCommit for the relay.
func (h *Handler) relayWaitCommit(ctx context.Context, after uint64) (uint64, uint64, error) {
	commit, term, err := h.b.LeaderWaitCommit(ctx, after)
	if isNotLeader(err) {
		return 0, 0, fmt.Errorf("%w: %w", relay.ErrNotLeader, err)
	}
	return commit, term, err
}

// RelayCommitWaiter lets server ask the leader for commit notices over c, in server's terms.
func RelayCommitWaiter(c *relay.Client) server.CommitWaiter { return relayCommitWaiter{c: c} }

type relayCommitWaiter struct{ c *relay.Client }

func (r relayCommitWaiter) WaitCommit(ctx context.Context, leaderURL string, after uint64) (uint64, uint64, error) {
	n, err := r.c.WaitCommit(ctx, peerHost(leaderURL), after)
	if errors.Is(err, relay.ErrUnsupported) {
		err = fmt.Errorf("%w: %w", server.ErrCommitNoticeUnsupported, err)
	}
	return n.Commit, n.Term, err
}

// RelayReadIndexer lets server ask the leader for read indexes over c, in server's terms.
func RelayReadIndexer(c *relay.Client) server.ReadIndexer { return &relayReadIndexer{c: c} }

// relayUnsupportedFor is how long a leader that took no read-index request over the relay is
// not asked that way again: every read round would otherwise pay a failed attempt before
// asking over HTTP, for a leader without the relay a dial and a refused handshake.
const relayUnsupportedFor = 10 * time.Second

type relayReadIndexer struct {
	c *relay.Client

	mu        sync.Mutex
	without   string // the last leader address that answered ErrUnsupported
	withoutAt time.Time
}

func (r *relayReadIndexer) ReadIndex(ctx context.Context, leaderURL string) (uint64, error) {
	addr := peerHost(leaderURL)
	r.mu.Lock()
	skip := addr == r.without && time.Since(r.withoutAt) < relayUnsupportedFor
	r.mu.Unlock()
	if skip {
		return 0, fmt.Errorf("%w: %s has no read index over the relay", server.ErrReadIndexUnsupported, addr)
	}
	idx, err := r.c.ReadIndex(ctx, addr)
	switch {
	case errors.Is(err, relay.ErrUnsupported):
		r.mu.Lock()
		r.without, r.withoutAt = addr, time.Now()
		r.mu.Unlock()
		err = fmt.Errorf("%w: %w", server.ErrReadIndexUnsupported, err)
	case errors.Is(err, relay.ErrClusterMismatch):
		err = fmt.Errorf("%w: %w", server.ErrClusterIDMismatch, err)
	}
	return idx, err
}

// serveRelay proposes a follower's write and renders the answer as serveWrite would. It never
// relays further: a node that is not leader says so, having proposed nothing.
func (h *Handler) serveRelay(ctx context.Context, req *relay.Request) *relay.Reply {
	rec := newRecorder()
	cmd, err := fsm.Unmarshal(req.Body)
	if err == nil && (cmd.Member != nil || cmd.Type != fsm.CmdPut && cmd.Type != fsm.CmdPost && cmd.Type != fsm.CmdDelete) {
		err = fmt.Errorf("%w: a relayed write is a put, post or delete, not %v", fsm.ErrMalformed, cmd.Type)
	}
	if err != nil {
		writeKeyError(rec, err)
		return rec.reply()
	}
	ev, err := h.b.Propose(ctx, cmd)
	if errors.Is(err, raftnode.ErrNotLeader) {
		return &relay.Reply{NotLeader: true}
	}
	if err != nil {
		writeKeyError(rec, err)
	} else {
		h.writeEvent(rec, false, ev, req.Flags&relayNoValue != 0)
	}
	rep := rec.reply()
	rep.Fields = append(rep.Fields, relay.Field{Name: headerApplied, Value: h.appliedValue()})
	return rep
}

// relayWrite sends a write this follower could not propose to the leader and writes the
// leader's answer. Like forward, it retries only when nothing can have been proposed: the
// request never left (relay.ErrNotSent) or the node reached was not leader and said so.
func (f *forwarder) relayWrite(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, cmd *fsm.Command, noValue bool) {
	if f.relay == nil {
		f.forward(ctx, w, r, body)
		return
	}
	req := &relay.Request{Body: cmd.Marshal()}
	if noValue {
		req.Flags |= relayNoValue
	}
	for {
		leader, err := f.b.WaitLeader(ctx)
		if err != nil {
			writeKeyError(w, err)
			return
		}
		if dl, ok := ctx.Deadline(); ok {
			req.Timeout = time.Until(dl)
		}
		rep, err := f.relay.Do(ctx, peerHost(leader), req)
		switch {
		case err == nil && !rep.NotLeader:
			if err := f.waitApplied(ctx, rep.Field(headerApplied)); err != nil {
				writeKeyError(w, err)
				return
			}
			writeReply(w, rep)
			return
		case err == nil || errors.Is(err, relay.ErrNotSent):
			if !pause(ctx) {
				writeKeyError(w, ctx.Err())
				return
			}
		case errors.Is(err, relay.ErrUnsupported):
			// A leader of an earlier build: it still takes the HTTP relay.
			f.forward(ctx, w, r, body)
			return
		case ctx.Err() != nil:
			writeKeyError(w, ctx.Err())
			return
		case errors.Is(err, relay.ErrTooLarge):
			writeKeyError(w, &requestError{code: api.CodeInvalidForm, cause: err.Error(), status: http.StatusRequestEntityTooLarge})
			return
		default:
			writeKeyError(w, err)
			return
		}
	}
}

// peerHost turns the leader's peer URL into the host:port its relay listens on.
func peerHost(peerURL string) string {
	if i := strings.Index(peerURL, "://"); i >= 0 {
		peerURL = peerURL[i+3:]
	}
	if i := strings.IndexByte(peerURL, '/'); i >= 0 {
		peerURL = peerURL[:i]
	}
	return peerURL
}

// appliedValue is headerApplied's value on the leader: its applied index and term.
func (h *Handler) appliedValue() string {
	idx, term := h.b.RaftStatus()
	return strconv.FormatUint(idx, 10) + "/" + strconv.FormatUint(term, 10)
}

// waitApplied holds a relayed write's answer until this follower has applied what the leader
// had when it answered (applied, empty from a leader of an earlier build: no wait then). The
// leader applied that index, so it is committed: this follower's raft hears so at once, rather
// than from the next commit notice or AppendEntries.
func (f *forwarder) waitApplied(ctx context.Context, applied string) error {
	if applied == "" {
		return nil
	}
	is, ts, _ := strings.Cut(applied, "/")
	idx, err := strconv.ParseUint(is, 10, 64)
	var term uint64
	if err == nil {
		term, err = strconv.ParseUint(ts, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("the leader's %s %q: %w", headerApplied, applied, err)
	}
	f.b.LearnCommit(term, idx)
	return f.b.WaitApplied(ctx, idx)
}

func writeReply(w http.ResponseWriter, rep *relay.Reply) {
	h := w.Header()
	for _, f := range rep.Fields {
		if f.Name != headerApplied {
			h.Set(f.Name, f.Value)
		}
	}
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

// recorder captures what a handler writes, for a relay reply.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: make(http.Header, 4)} }

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(p []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	return rc.body.Write(p)
}

// reply keeps the headers the HTTP relay copied back, and only those: the rest (the node's
// name, the cluster id, CORS) are the follower's own to set.
func (rc *recorder) reply() *relay.Reply {
	rep := &relay.Reply{Status: rc.status, Body: rc.body.Bytes()}
	if rep.Status == 0 {
		rep.Status = http.StatusOK
	}
	for _, k := range relayedHeaders {
		if v := rc.header.Get(k); v != "" {
			rep.Fields = append(rep.Fields, relay.Field{Name: k, Value: v})
		}
	}
	return rep
}
