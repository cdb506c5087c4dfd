package client

import (
	"context"
	"encoding/json"
	"net/http"

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
	return m.change(ctx, request{method: http.MethodPut, path: "/v2/members/" + mem.ID, json: body, write: true})
}

// Promote makes the named learner a voting member; the cluster refuses, with an error that says
// so, while the learner has not caught up with the leader.
func (m *Members) Promote(ctx context.Context, name string) error {
	mem, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	return m.change(ctx, request{method: http.MethodPost, path: "/v2/members/" + mem.ID + "/promote", write: true})
}

func (m *Members) change(ctx context.Context, r request) error {
	rep, err := m.s.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status != http.StatusNoContent {
		return replyError(rep)
	}
	m.s.c.requestRefresh()
	return nil
}
