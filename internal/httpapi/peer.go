package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/server"
)

// ReadIndexResponse is the leader's answer to a follower's read-index request.
type ReadIndexResponse struct {
	Index uint64 `json:"index"`
}

// PeerCluster is what a starting or joining node learns from a member.
type PeerCluster struct {
	ClusterID string       `json:"clusterID"`
	Members   []api.Member `json:"members"`
	// ClusterName is the answering member's --cluster-name ("" when it has none, or is of an
	// earlier build); a joining member started with another refuses to start.
	ClusterName string `json:"clusterName,omitempty"`
}

func (h *Handler) serveReadIndex(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !h.checkClusterID(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	idx, err := h.b.LeaderReadIndex(ctx)
	if err != nil {
		if isNotLeader(err) {
			w.Header().Set(headerNotLeader, "1")
		}
		writeMessage(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ReadIndexResponse{Index: idx}, false)
}

func (h *Handler) servePeerCluster(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	out := PeerCluster{ClusterID: idString(h.b.ClusterID()), ClusterName: h.b.ClusterName()}
	for _, m := range h.b.Members() {
		out.Members = append(out.Members, toAPIMember(m))
	}
	writeJSON(w, http.StatusOK, out, false)
}

// servePeerVersion publishes this member's build and level to the leader (server/version.go).
func (h *Handler) servePeerVersion(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !h.checkClusterID(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, h.b.LocalVersion(), false)
}

// checkClusterID refuses peers of another cluster: a node started with another
// --initial-cluster-token must not take part in this one.
func (h *Handler) checkClusterID(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("X-Etcd-Cluster-Id")
	if got == "" {
		return true
	}
	want := h.b.ClusterID()
	if id, err := strconv.ParseUint(got, 16, 64); err == nil && id == want {
		return true
	}
	writeMessage(w, http.StatusPreconditionFailed, "cluster ID mismatch: this member belongs to cluster "+idString(want)+", the request came from cluster "+got)
	return false
}

// servePublish records a member's own attributes; followers send theirs to the leader.
func (h *Handler) servePublish(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || !h.checkClusterID(w, r) {
		return
	}
	var m server.MemberInfo
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.Limits.MaxRequestBytes))
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	if err := h.b.Publish(ctx, m); err != nil {
		if isNotLeader(err) {
			w.Header().Set(headerNotLeader, "1")
		}
		writeMessage(w, memberErrorStatus(err), err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
