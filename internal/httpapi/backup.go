package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/cairn-io/cairn/internal/backup"
	"github.com/hashicorp/raft"
)

// Snapshotter is what the backup endpoint needs beyond Backend: a consistent image of the
// state machine (fsm.FSM's Snapshot; the image is taken under the store's lock).
type Snapshotter interface {
	Snapshot() (raft.FSMSnapshot, error)
}

// serveSnapshot answers with a backup file of this member's state at an index no older than
// the request: a read barrier first (the leader confirms its leadership, a follower catches up
// with the leader's commit index), then one snapshot of the state machine. Every write
// acknowledged before the request is in it.
func (h *Handler) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	// A snapshot carries the password hashes and the token signing key: root only.
	if !allowMethods(w, r, http.MethodGet) || !h.rootAllowed(w, r) {
		return
	}
	if h.cfg.Snapshots == nil {
		writeMessage(w, http.StatusNotImplemented, "this member serves no snapshots")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	err := h.b.ReadBarrier(ctx)
	cancel()
	if err != nil {
		writeKeyError(w, err)
		return
	}
	snap, err := h.cfg.Snapshots.Snapshot()
	var b []byte
	if err == nil {
		b, err = backup.Encode(snap)
	}
	if err != nil {
		h.log.Error("backup snapshot failed", "err", err)
		writeMessage(w, http.StatusInternalServerError, "snapshot failed")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
