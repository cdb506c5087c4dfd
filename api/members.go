package api

// Member is a member as /v2/members renders it. IDs are 16 hex digits, as etcd writes them.
type Member struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// Members is the body of GET /v2/members.
type Members struct {
	Members []Member `json:"members"`
}

// MemberCreateRequest is the body of POST /v2/members and PUT /v2/members/{id}.
type MemberCreateRequest struct {
	PeerURLs  []string `json:"peerURLs"`
	IsLearner bool     `json:"isLearner,omitempty"`
}

// Version is the body of GET /version: etcd's two fields, which clients check, and Cairn's own
// beside them: this member's version and commit, and the cluster version, the level of
// commands and formats every member can apply (docs/operations.md, "Cluster version").
type Version struct {
	Server       string `json:"etcdserver"`
	Cluster      string `json:"etcdcluster"`
	Cairn        string `json:"cairnserver"`
	CairnCluster string `json:"cairncluster"`
}

// The versions Cairn announces: the etcd release whose v2 API it serves, so that clients that
// gate features on the version behave as they do with etcd 3.4.
const (
	ServerVersion  = "3.4.23"
	ClusterVersion = "3.4.0"
)
