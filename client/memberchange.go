package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cairn-io/cairn/api"
)

// Update replaces the named member's peer URLs (etcd's member update); the member must then
// listen on them.
func (m *Members) Update(ctx context.Context, name string, peerURLs []string) error {
	mem, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(api.MemberCreateRequest{PeerURLs: peerURLs})
	return m.change(ctx, request{method: http.MethodPut, path: "/v2/members/" + url.PathEscape(mem.ID), json: body, write: true}, name)
}

// Promote makes the named learner a voting member; the cluster refuses, with an error that says
// so, while the learner has not caught up with the leader.
func (m *Members) Promote(ctx context.Context, name string) error {
	mem, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	return m.PromoteID(ctx, mem.ID)
}

// PromoteID makes a learner ("database-standby") a voter, by member ID (Add's answer). The leader
// refuses while the learner is too far behind; try again once it has caught up.
func (m *Members) PromoteID(ctx context.Context, id string) error {
	return m.change(ctx, request{method: http.MethodPost, path: "/v2/members/" + url.PathEscape(id) + "/promote", write: true}, id)
}

// Remove removes the named member.
func (m *Members) Remove(ctx context.Context, name string) error {
	mem, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	return m.RemoveID(ctx, mem.ID)
}

// RemoveID removes a member by ID: a member that was added but never started has no name yet.
func (m *Members) RemoveID(ctx context.Context, id string) error {
	return m.change(ctx, request{method: http.MethodDelete, path: "/v2/members/" + url.PathEscape(id), write: true}, id)
}

// Evacuate hands leadership away if the member holds it and marks it Evacuated: clients stop
// sending it requests.
func (m *Members) Evacuate(ctx context.Context, name string) error {
	return m.setState(ctx, name, api.ActionEvacuate)
}

// Restore brings an evacuated member back into service.
func (m *Members) Restore(ctx context.Context, name string) error {
	return m.setState(ctx, name, api.ActionRestore)
}

func (m *Members) setState(ctx context.Context, name, action string) error {
	body, _ := json.Marshal(api.ClusterMemberState{Action: action})
	return m.change(ctx, request{method: http.MethodPost,
		path: "/v1/cluster/members/" + url.PathEscape(name) + "/state", json: body, write: true}, name)
}

// change sends one membership change and has the cluster view refreshed after it; a 404 is
// ErrMemberNotFound naming who, the member the caller named.
func (m *Members) change(ctx context.Context, r request, who string) error {
	rep, err := m.s.do(ctx, r)
	if err != nil {
		return err
	}
	switch rep.status {
	case http.StatusNoContent:
		m.s.c.requestRefresh()
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrMemberNotFound, who)
	}
	return replyError(rep)
}
