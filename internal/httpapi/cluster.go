package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/server"
)

const clusterPrefix = "/v1/cluster"

// errNoRoute is a /v1/cluster path that names nothing.
var errNoRoute = errors.New("not found")

// registerCluster adds Cairn's own cluster view (LXD's field names). The peer port serves it
// too, for state changes a follower relays to the leader, plus the liveness report a follower
// asks the leader for.
func (h *Handler) registerCluster() {
	if h.peer {
		h.mux.HandleFunc(server.LivenessPath, h.serveLiveness)
	}
	h.mux.HandleFunc(clusterPrefix, h.serveCluster)
	h.mux.HandleFunc(clusterPrefix+"/", h.serveCluster)
}

func (h *Handler) serveCluster(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, clusterPrefix), "/")
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	parts := strings.Split(rest, "/")
	switch {
	case rest == "":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) && h.authenticatedAllowed(w, r) {
			writeJSON(w, http.StatusOK, h.b.ClusterInfo(ctx), true)
		}
	case rest == "members":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) && h.authenticatedAllowed(w, r) {
			writeJSON(w, http.StatusOK, h.b.ClusterMembers(ctx), true)
		}
	case len(parts) == 2 && parts[0] == "members":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) || !h.authenticatedAllowed(w, r) {
			return
		}
		m, err := h.b.ClusterMember(ctx, parts[1])
		if err != nil {
			writeV1Error(w, err)
			return
		}
		writeJSON(w, http.StatusOK, m, true)
	case len(parts) == 3 && parts[0] == "members" && parts[2] == "state":
		if allowMethods(w, r, http.MethodPost) && h.rootAllowed(w, r) {
			h.setMemberState(ctx, w, r, parts[1])
		}
	default:
		writeV1Error(w, errNoRoute)
	}
}

// setMemberState runs on the leader; a follower relays the request there in one hop.
func (h *Handler) setMemberState(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.Limits.MaxRequestBytes))
	var req api.ClusterMemberState
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeV1Error(w, badRequest(api.CodeInvalidForm, "body: "+err.Error()))
		return
	}
	err = h.b.SetMemberState(ctx, name, req.Action)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case isNotLeader(err) && (h.peer || r.Header.Get(headerForwarded) != ""):
		w.Header().Set(headerNotLeader, "1")
		writeV1Error(w, err)
	case isNotLeader(err):
		h.fwd.forward(ctx, w, r, body)
	default:
		writeV1Error(w, err)
	}
}

func (h *Handler) serveLiveness(w http.ResponseWriter, r *http.Request) {
	if allowMethods(w, r, http.MethodGet) && h.checkClusterID(w, r) {
		writeJSON(w, http.StatusOK, h.b.LocalLiveness(), false)
	}
}

// writeV1Error writes LXD's error shape with the status the one mapping gives.
func writeV1Error(w http.ResponseWriter, err error) {
	status := memberErrorStatus(err)
	writeJSON(w, status, api.V1Error{Type: "error", Error: err.Error(), ErrorCode: status}, true)
}
