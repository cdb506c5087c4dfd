package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/store"
)

func (h *Handler) serveKeys(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodHead, http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete) {
		return
	}
	start := time.Now()
	form, body, err := readForm(r, h.cfg.Limits.MaxRequestBytes)
	if err != nil {
		writeKeyError(w, err)
		return
	}
	kr, err := parseKeysRequest(r, form, h.cfg.Limits)
	if err != nil {
		writeKeyError(w, err)
		return
	}
	op := keysOp(r.Method, kr.quorum)
	h.metrics.ops[op].received.Inc()
	if !h.keysAllowed(w, r, kr.key, kr.recursive) {
		h.metrics.observe(op, http.StatusUnauthorized, start)
		return
	}
	if kr.wait && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.serveWatch(w, r, kr)
		return
	}
	rec := getRecorder(w)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveGet(rec, r, kr)
	default:
		h.serveWrite(rec, r, kr, body)
	}
	h.metrics.observe(op, rec.status(), start)
	putRecorder(rec)
}

func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, kr *keysRequest) {
	linearizable := kr.quorum || (!kr.serializable && !h.cfg.Serializable)
	if linearizable {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
		err := h.b.ReadBarrier(ctx)
		cancel()
		if err != nil {
			h.metrics.set.ReadIndexesFailed.Inc()
			writeKeyError(w, err)
			return
		}
	}
	ev, err := h.b.Store().Get(kr.key, kr.recursive, kr.sorted, time.Now())
	if err != nil {
		writeKeyError(w, err)
		return
	}
	h.writeEvent(w, r.Method == http.MethodHead, ev, false)
}

func (h *Handler) serveWrite(w http.ResponseWriter, r *http.Request, kr *keysRequest, body []byte) {
	cmd := kr.command()
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	ev, err := h.b.Propose(ctx, cmd)
	if errors.Is(err, raftnode.ErrNotLeader) {
		if h.peer || r.Header.Get(headerForwarded) != "" {
			// Relayed already: the follower picks the new leader and retries. Nothing was proposed.
			w.Header().Set(headerNotLeader, "1")
			writeMessage(w, http.StatusServiceUnavailable, errForwardLoop.Error())
			return
		}
		h.fwd.relayWrite(ctx, w, r, body, cmd, kr.noValueOnSuccess)
		return
	}
	if r.Header.Get(headerForwarded) != "" {
		w.Header().Set(headerApplied, h.appliedValue())
	}
	if err != nil {
		writeKeyError(w, err)
		return
	}
	h.writeEvent(w, false, ev, kr.noValueOnSuccess)
}

// command builds the log entry; the leader stamps its time on it when proposing.
func (kr *keysRequest) command() *fsm.Command {
	c := &fsm.Command{
		Key: kr.key, Value: kr.value, PrevValue: kr.prevValue, PrevIndex: kr.prevIndex,
		PrevExist: kr.prevExist, Dir: kr.dir, Recursive: kr.recursive, Refresh: kr.refresh,
		TTL: kr.ttl,
	}
	switch kr.method {
	case http.MethodPut:
		c.Type = fsm.CmdPut
	case http.MethodPost:
		c.Type = fsm.CmdPost
	case http.MethodDelete:
		c.Type = fsm.CmdDelete
	}
	return c
}

// writeEvent writes a successful keys answer. 201 marks a node that did not exist before, as
// etcd does (create, and set without a previous node).
func (h *Handler) writeEvent(w http.ResponseWriter, head bool, ev *store.Event, noValue bool) {
	h.setRaftHeaders(w, ev.EtcdIndex)
	w.Header()["Content-Type"] = jsonContentType
	status := http.StatusOK
	if ev.Action == store.Create || (ev.Action == store.Set && ev.PrevNode == nil) {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	if head {
		return
	}
	if noValue {
		switch ev.Action {
		case store.Set, store.Create, store.Update, store.CompareAndSwap:
			ev = &store.Event{Action: ev.Action, EtcdIndex: ev.EtcdIndex}
		}
	}
	bp := eventBufs.Get().(*[]byte)
	b := append(ev.AppendJSON((*bp)[:0]), '\n')
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		eventBufs.Put(bp)
	}
}

// eventBufs recycles the buffers answers are rendered into; huge ones are left to the GC.
var eventBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
