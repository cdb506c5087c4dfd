package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
)

// requestError is a request that failed validation here, before it reached the store. etcd
// reports those with index 0, and so do we.
type requestError struct {
	code   int
	cause  string
	status int // 0 means the status etcd gives the code
}

func (e *requestError) Error() string { return api.Message(e.code) + ": " + e.cause }

func badRequest(code int, cause string) error { return &requestError{code: code, cause: cause} }

// insufficientCredentials is etcd's cause for every authentication or permission refusal.
const insufficientCredentials = "Insufficient credentials"

// errInsufficientCredentials is such a refusal on /v2/keys: code 110, index 0, 401.
var errInsufficientCredentials = badRequest(api.CodeUnauthorized, insufficientCredentials)

// authStatuses is the single table from the auth state's refusals to the statuses etcd's v2
// auth API answers them with; the message is the refusal's own (etcd's text).
var authStatuses = []struct {
	err    error
	status int
}{
	{auth.ErrUserNotFound, http.StatusNotFound},
	{auth.ErrRoleNotFound, http.StatusNotFound},
	{auth.ErrUserExists, http.StatusConflict},
	{auth.ErrRoleExists, http.StatusConflict},
	{auth.ErrDuplicateGrant, http.StatusConflict},
	{auth.ErrUngrantedRevoke, http.StatusConflict},
	{auth.ErrAlreadyEnabled, http.StatusConflict},
	{auth.ErrAlreadyDisabled, http.StatusConflict},
	{auth.ErrNoRootUser, http.StatusConflict},
	{auth.ErrRootRoleReadOnly, http.StatusForbidden},
	{auth.ErrRootUserNeeded, http.StatusForbidden},
	{auth.ErrEmptyPassword, http.StatusBadRequest},
	{auth.ErrNotUpdated, http.StatusBadRequest},
	{auth.ErrInvalidName, http.StatusBadRequest},
	{auth.ErrPasswordTooLong, http.StatusBadRequest},
	// A member may be of a build without auth (a rolling upgrade under way): the request may
	// succeed once every member is upgraded, as a 503 says. etcd v3 refuses features its
	// cluster version lacks likewise, with Unavailable.
	{server.ErrClusterVersionTooLow, http.StatusServiceUnavailable},
}

// writeAuthError answers a refused /v2/auth request as etcd does: {"message":...} with the
// status of the refusal; anything else (no leader, a timeout) is a 500 with etcd's text.
func writeAuthError(w http.ResponseWriter, err error) {
	for _, c := range authStatuses {
		if errors.Is(err, c.err) {
			msg := err.Error()
			var ae *auth.Error
			if errors.As(err, &ae) {
				msg = ae.Message
			}
			writeMessage(w, c.status, msg)
			return
		}
	}
	e, status := toAPIError(err)
	if status < http.StatusInternalServerError {
		status = http.StatusInternalServerError
	}
	writeMessage(w, status, e.Cause)
}

// storeCodes is the single table from the store's sentinels to etcd's codes.
var storeCodes = []struct {
	err  error
	code int
}{
	{store.ErrKeyNotFound, api.CodeKeyNotFound},
	{store.ErrTestFailed, api.CodeTestFailed},
	{store.ErrNotFile, api.CodeNotFile},
	{store.ErrNotDir, api.CodeNotDir},
	{store.ErrNodeExist, api.CodeNodeExist},
	{store.ErrKeyIsPreserved, api.CodeKeyIsPreserved},
	{store.ErrRootReadOnly, api.CodeRootROnly},
	{store.ErrDirNotEmpty, api.CodeDirNotEmpty},
	{store.ErrEventIndexCleared, api.CodeEventIndexCleared},
	{store.ErrInvalidKey, api.CodeInvalidField},
}

// toAPIError is the one place where an internal condition becomes a wire code. Every error a
// handler can meet passes through here.
func toAPIError(err error) (*api.Error, int) {
	var re *requestError
	if errors.As(err, &re) {
		e := api.NewError(re.code, re.cause, 0)
		if re.status != 0 {
			return e, re.status
		}
		return e, e.Status()
	}
	var se *store.Error
	if errors.As(err, &se) {
		for _, c := range storeCodes {
			if errors.Is(se.Err, c.err) {
				e := api.NewError(c.code, se.Cause, se.Index)
				return e, e.Status()
			}
		}
	}
	switch {
	case errors.Is(err, raftnode.ErrNoLeader), errors.Is(err, server.ErrNoLeader):
		e := api.NewError(api.CodeLeaderElect, "no leader: "+err.Error(), 0)
		return e, e.Status()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, server.ErrTimeout):
		e := api.NewError(api.CodeRaftInternal, "etcdserver: request timed out", 0)
		return e, e.Status()
	case errors.Is(err, context.Canceled):
		e := api.NewError(api.CodeRaftInternal, "etcdserver: request cancelled", 0)
		return e, e.Status()
	case errors.Is(err, server.ErrClusterVersionTooLow):
		return api.NewError(api.CodeRaftInternal, err.Error(), 0), http.StatusServiceUnavailable
	}
	e := api.NewError(api.CodeRaftInternal, err.Error(), 0)
	return e, e.Status()
}

// writeKeyError writes an etcd v2 error body. etcd sends X-Etcd-Index with errors but not the
// raft headers; clients rely on both facts.
func writeKeyError(w http.ResponseWriter, err error) {
	e, status := toAPIError(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Etcd-Index", strconv.FormatUint(e.Index, 10))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// memberErrorStatus maps membership conditions to the statuses etcd's members API uses.
func memberErrorStatus(err error) int {
	switch {
	case errors.Is(err, server.ErrMemberNotFound), errors.Is(err, errNoRoute):
		return http.StatusNotFound
	case errors.Is(err, server.ErrInvalidAction):
		return http.StatusBadRequest
	case errors.Is(err, server.ErrMemberExists), errors.Is(err, server.ErrPeerURLExists):
		return http.StatusConflict
	case errors.Is(err, server.ErrLearnerNotReady), errors.Is(err, server.ErrMemberNotLearner),
		errors.Is(err, server.ErrUnhealthy):
		return http.StatusPreconditionFailed
	case errors.Is(err, raftnode.ErrNoLeader), errors.Is(err, server.ErrNoLeader),
		errors.Is(err, raftnode.ErrNotLeader),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, server.ErrTimeout):
		return http.StatusServiceUnavailable
	}
	var re *requestError
	if errors.As(err, &re) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeMessage writes etcd's {"message": "..."} error shape used outside /v2/keys; etcd ends
// these bodies without a newline.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	_, _ = w.Write(b)
}

// errNotReady answers client requests that arrive before this node has joined the cluster's
// member table (no quorum yet, typically).
var errNotReady = errors.New("this member has not joined the cluster yet: no quorum to commit its attributes")
