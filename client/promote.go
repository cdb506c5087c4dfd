package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// PromoteID makes a learner ("database-standby") a voter, by member ID (Add's answer). The leader
// refuses while the learner is too far behind; try again once it has caught up.
func (m *Members) PromoteID(ctx context.Context, id string) error {
	rep, err := m.s.do(ctx, request{method: http.MethodPost, path: "/v2/members/" + url.PathEscape(id) + "/promote", write: true})
	if err != nil {
		return err
	}
	switch rep.status {
	case http.StatusNoContent:
		m.s.c.requestRefresh()
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrMemberNotFound, id)
	}
	return replyError(rep)
}

// RemoveID removes a member by ID: a member that was added but never started has no name yet.
func (m *Members) RemoveID(ctx context.Context, id string) error {
	rep, err := m.s.do(ctx, request{method: http.MethodDelete, path: "/v2/members/" + url.PathEscape(id), write: true})
	if err != nil {
		return err
	}
	switch rep.status {
	case http.StatusNoContent:
		m.s.c.requestRefresh()
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrMemberNotFound, id)
	}
	return replyError(rep)
}
