package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/server"
)

func toAPIMember(m server.MemberInfo) api.Member {
	peer, client := m.PeerURLs, m.ClientURLs
	if peer == nil {
		peer = []string{}
	}
	if client == nil {
		client = []string{}
	}
	return api.Member{ID: idString(m.ID), Name: m.Name, PeerURLs: peer, ClientURLs: client, IsLearner: m.Learner}
}

// serveMembers serves etcd's /v2/members: list, add, remove, update, leader, plus
// /v2/members/{id}/promote for learners (etcd offers promotion only in v3).
func (h *Handler) serveMembers(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, membersPrefix), "/")
	switch {
	case rest == "":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodPost) || !h.writeRootAllowed(w, r) {
			return
		}
		if r.Method == http.MethodPost {
			h.memberWrite(w, r, func(ctx context.Context, body []byte) (any, int, error) {
				req, err := decodeMemberRequest(r, body)
				if err != nil {
					return nil, 0, err
				}
				m, err := h.b.AddMember(ctx, req.PeerURLs, req.IsLearner)
				return toAPIMember(m), http.StatusCreated, err
			})
			return
		}
		ms := h.b.Members()
		out := api.Members{Members: make([]api.Member, 0, len(ms))}
		for _, m := range ms {
			out.Members = append(out.Members, toAPIMember(m))
		}
		writeJSON(w, http.StatusOK, out, true)
	case rest == "leader":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		m, ok := h.b.Leader()
		if !ok {
			writeMessage(w, http.StatusServiceUnavailable, "During leader election")
			return
		}
		writeJSON(w, http.StatusOK, toAPIMember(m), true)
	default:
		idPart, action, _ := strings.Cut(rest, "/")
		id, err := strconv.ParseUint(idPart, 16, 64)
		if err != nil {
			writeMessage(w, http.StatusNotFound, fmt.Sprintf("No such member: %s", idPart))
			return
		}
		switch action {
		case "":
			if !allowMethods(w, r, http.MethodDelete, http.MethodPut) || !h.rootAllowed(w, r) {
				return
			}
			h.memberWrite(w, r, func(ctx context.Context, body []byte) (any, int, error) {
				if r.Method == http.MethodDelete {
					return nil, http.StatusNoContent, h.b.RemoveMember(ctx, id)
				}
				req, err := decodeMemberRequest(r, body)
				if err != nil {
					return nil, 0, err
				}
				return nil, http.StatusNoContent, h.b.UpdateMember(ctx, id, req.PeerURLs)
			})
		case "promote":
			if !allowMethods(w, r, http.MethodPost) || !h.rootAllowed(w, r) {
				return
			}
			h.memberWrite(w, r, func(ctx context.Context, body []byte) (any, int, error) {
				return nil, http.StatusNoContent, h.b.PromoteMember(ctx, id)
			})
		default:
			writeMessage(w, http.StatusNotFound, "Not found")
		}
	}
}

// memberWrite runs a leader-only membership change here, or relays it to the leader.
func (h *Handler) memberWrite(w http.ResponseWriter, r *http.Request, do func(context.Context, []byte) (any, int, error)) {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.Limits.MaxRequestBytes))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	out, status, err := do(ctx, body)
	switch {
	case err == nil:
	case isNotLeader(err) && (h.peer || r.Header.Get(headerForwarded) != ""):
		w.Header().Set(headerNotLeader, "1")
		writeMessage(w, http.StatusServiceUnavailable, errForwardLoop.Error())
		return
	case isNotLeader(err):
		h.fwd.forward(ctx, w, r, body)
		return
	default:
		var re *requestError
		if errors.As(err, &re) && re.status != 0 {
			writeMessage(w, re.status, re.cause)
			return
		}
		writeMessage(w, memberErrorStatus(err), err.Error())
		return
	}
	if out == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, out, true)
}

func isNotLeader(err error) bool { return errors.Is(err, raftnode.ErrNotLeader) }

func decodeMemberRequest(r *http.Request, body []byte) (*api.MemberCreateRequest, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return nil, &requestError{code: api.CodeInvalidForm, status: http.StatusUnsupportedMediaType,
			cause: fmt.Sprintf("Bad Content-Type %s, accept application/json", r.Header.Get("Content-Type"))}
	}
	var req api.MemberCreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &requestError{code: api.CodeInvalidForm, status: http.StatusBadRequest, cause: err.Error()}
	}
	if len(req.PeerURLs) == 0 {
		return nil, &requestError{code: api.CodeInvalidForm, status: http.StatusBadRequest, cause: "peerURLs must not be empty"}
	}
	for _, u := range req.PeerURLs {
		if err := checkPeerURL(u); err != nil {
			return nil, &requestError{code: api.CodeInvalidForm, status: http.StatusBadRequest, cause: err.Error()}
		}
	}
	return &req, nil
}

func checkPeerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid peer URL %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("invalid peer URL %q: scheme must be http or https", s)
	}
	if u.Port() == "" || u.Hostname() == "" {
		return fmt.Errorf("invalid peer URL %q: want scheme://host:port", s)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("invalid peer URL %q: must not have a path", s)
	}
	return nil
}

// writeJSON writes v; etcd ends some bodies with a newline (json.Encoder) and others not.
func writeJSON(w http.ResponseWriter, status int, v any, newline bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if newline {
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}
