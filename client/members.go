package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cairn-io/cairn/api"
)

// Member is a cluster member as GET /v1/cluster/members describes it.
type Member struct {
	ServerName   string
	ID           string
	URL          string // the first of URLs
	AlternateURL string // the first of AlternateURLs
	// URLs and AlternateURLs are every client URL the member advertises, http:// and https://.
	URLs          []string
	AlternateURLs []string
	PeerURL       string
	Database      bool     // a voter
	Roles         []string // api.RoleLeader, api.RoleVoter, api.RoleStandby
	Status        string   // api.StatusOnline, Offline, Evacuated, Blocked
	Message       string
	FailureDomain int // the rack
	AppliedIndex  uint64
	// QuorumPort is the member's quorum UDP port, on the host of its URL (or AlternateURL);
	// 0 when it answers no quorum queries.
	QuorumPort int
}

func fromAPI(m api.ClusterMember) Member {
	return Member{ServerName: m.ServerName, ID: m.ID, URL: m.URL, AlternateURL: m.AlternateURL,
		URLs: m.URLs, AlternateURLs: m.AlternateURLs, PeerURL: m.PeerURL, Database: m.Database, Roles: m.Roles, Status: m.Status, Message: m.Message,
		FailureDomain: m.FailureDomain, AppliedIndex: m.AppliedIndex, QuorumPort: m.QuorumPort}
}

// Members reads and changes membership.
type Members struct {
	s *Session
}

// Members returns the membership API; it routes like a session with DefaultBehavior.
func (c *Cluster) Members() *Members {
	b := DefaultBehavior
	b.Replica = ReplicaLeader
	return &Members{s: c.CreateSession(b)}
}

// All lists every member.
func (m *Members) All(ctx context.Context) ([]Member, error) {
	rep, err := m.s.do(ctx, request{method: http.MethodGet, path: "/v1/cluster/members", safe: true})
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, replyError(rep)
	}
	var ms api.ClusterMembers
	if err := json.Unmarshal(rep.body, &ms); err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(ms.Members))
	for _, x := range ms.Members {
		out = append(out, fromAPI(x))
	}
	return out, nil
}

// Get returns one member by name; ErrMemberNotFound if there is none.
func (m *Members) Get(ctx context.Context, name string) (Member, error) {
	rep, err := m.s.do(ctx, request{method: http.MethodGet, path: "/v1/cluster/members/" + url.PathEscape(name), safe: true})
	if err != nil {
		return Member{}, err
	}
	if rep.status == http.StatusNotFound {
		return Member{}, fmt.Errorf("%w: %s", ErrMemberNotFound, name)
	}
	if rep.status != http.StatusOK {
		return Member{}, replyError(rep)
	}
	var x api.ClusterMember
	if err := json.Unmarshal(rep.body, &x); err != nil {
		return Member{}, err
	}
	return fromAPI(x), nil
}

// Add adds a member with these peer URLs (a learner, "database-standby", if learner is true);
// then start the new node with --initial-cluster-state existing. The answer has its ID.
func (m *Members) Add(ctx context.Context, peerURLs []string, learner bool) (Member, error) {
	body, _ := json.Marshal(api.MemberCreateRequest{PeerURLs: peerURLs, IsLearner: learner})
	rep, err := m.s.do(ctx, request{method: http.MethodPost, path: "/v2/members", json: body, write: true})
	if err != nil {
		return Member{}, err
	}
	if rep.status != http.StatusCreated {
		return Member{}, replyError(rep)
	}
	var am api.Member
	if err := json.Unmarshal(rep.body, &am); err != nil {
		return Member{}, err
	}
	m.s.c.requestRefresh()
	out := Member{ID: am.ID, Database: !am.IsLearner}
	if len(am.PeerURLs) > 0 {
		out.PeerURL = am.PeerURLs[0]
	}
	return out, nil
}
