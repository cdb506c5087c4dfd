package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/store"
)

// Every store sentinel reaches the wire as etcd's code and status, with cause and index kept.
func TestToAPIErrorMapsEveryStoreSentinel(t *testing.T) {
	want := map[error]struct{ code, status int }{
		store.ErrKeyNotFound:       {api.CodeKeyNotFound, http.StatusNotFound},
		store.ErrTestFailed:        {api.CodeTestFailed, http.StatusPreconditionFailed},
		store.ErrNotFile:           {api.CodeNotFile, http.StatusForbidden},
		store.ErrNotDir:            {api.CodeNotDir, http.StatusBadRequest},
		store.ErrNodeExist:         {api.CodeNodeExist, http.StatusPreconditionFailed},
		store.ErrKeyIsPreserved:    {api.CodeKeyIsPreserved, http.StatusBadRequest},
		store.ErrRootReadOnly:      {api.CodeRootROnly, http.StatusBadRequest},
		store.ErrDirNotEmpty:       {api.CodeDirNotEmpty, http.StatusForbidden},
		store.ErrEventIndexCleared: {api.CodeEventIndexCleared, http.StatusBadRequest},
		store.ErrInvalidKey:        {api.CodeInvalidField, http.StatusBadRequest},
	}
	if len(want) != len(storeCodes) {
		t.Fatalf("storeCodes has %d entries, the test knows %d", len(storeCodes), len(want))
	}
	for sentinel, w := range want {
		e, status := toAPIError(fmt.Errorf("wrapped: %w", &store.Error{Err: sentinel, Cause: "/k", Index: 7}))
		if e.ErrorCode != w.code || status != w.status || e.Cause != "/k" || e.Index != 7 || e.Message != api.Message(w.code) {
			t.Errorf("%v: got %+v %d, want code %d status %d", sentinel, e, status, w.code, w.status)
		}
	}
}

func TestToAPIErrorForRaftConditions(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		status int
	}{
		{raftnode.ErrNoLeader, api.CodeLeaderElect, http.StatusInternalServerError},
		{fmt.Errorf("x: %w", server.ErrNoLeader), api.CodeLeaderElect, http.StatusInternalServerError},
		{context.DeadlineExceeded, api.CodeRaftInternal, http.StatusInternalServerError},
		{fmt.Errorf("%w: slow", server.ErrTimeout), api.CodeRaftInternal, http.StatusInternalServerError},
		{raftnode.ErrLeadershipLost, api.CodeRaftInternal, http.StatusInternalServerError},
		{badRequest(api.CodeTTLNaN, "c"), api.CodeTTLNaN, http.StatusBadRequest},
		// A keys command the cluster version does not cover yet (none today): 503, as on /v2/auth.
		{fmt.Errorf("%w: later", server.ErrClusterVersionTooLow), api.CodeRaftInternal, http.StatusServiceUnavailable},
	} {
		e, status := toAPIError(tc.err)
		if e.ErrorCode != tc.code || status != tc.status {
			t.Errorf("%v: got %d/%d, want %d/%d", tc.err, e.ErrorCode, status, tc.code, tc.status)
		}
	}
}

func TestMemberErrorStatus(t *testing.T) {
	for err, status := range map[error]int{
		server.ErrMemberNotFound:   http.StatusNotFound,
		server.ErrMemberExists:     http.StatusConflict,
		server.ErrPeerURLExists:    http.StatusConflict,
		server.ErrMemberNotLearner: http.StatusPreconditionFailed,
		raftnode.ErrNotLeader:      http.StatusServiceUnavailable,
		fmt.Errorf("boom"):         http.StatusInternalServerError,
	} {
		if got := memberErrorStatus(fmt.Errorf("w: %w", err)); got != status {
			t.Errorf("%v: %d, want %d", err, got, status)
		}
	}
}
