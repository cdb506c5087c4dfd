package api

// Cairn's own cluster view, served under /v1 for smart clients. Field names follow LXD's
// clustering API (server_name, url, database, status, message, failure_domain, roles).

// Member statuses.
const (
	StatusOnline    = "Online"
	StatusOffline   = "Offline"
	StatusEvacuated = "Evacuated"
	StatusBlocked   = "Blocked"
)

// Member roles.
const (
	RoleLeader  = "database-leader"
	RoleVoter   = "database-voter"
	RoleStandby = "database-standby"
)

// Member state actions for POST /v1/cluster/members/{name}/state.
const (
	ActionEvacuate = "evacuate"
	ActionRestore  = "restore"
)

// MemberConfigKey is one setting a new member needs to join, as LXD's member_config lists them.
type MemberConfigKey struct {
	Entity      string `json:"entity"`
	Name        string `json:"name"`
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description"`
}

// Cluster is the body of GET /v1/cluster.
type Cluster struct {
	ServerName string `json:"server_name"`
	// Enabled: the answering member belongs to the cluster as this member has applied it (not
	// yet added, or removed: false) and is not evacuated.
	Enabled      bool              `json:"enabled"`
	MemberConfig []MemberConfigKey `json:"member_config"`
	ClusterName  string            `json:"cluster_name"`
	ClusterID    string            `json:"cluster_id"`
	Leader       string            `json:"leader"`
	// Generation changes whenever membership, a member's addresses or status, or the leader
	// changes; clients poll it and refresh their member list when it moves.
	Generation uint64 `json:"generation"`
	// AppliedIndex is the answering node's last applied raft index.
	AppliedIndex uint64 `json:"applied_index"`
}

// ClusterMember is one member in GET /v1/cluster/members[/{name}].
type ClusterMember struct {
	ServerName string `json:"server_name"`
	ID         string `json:"id"`
	// URL and AlternateURL are the first of URLs and AlternateURLs, for clients that know one.
	URL          string `json:"url"`
	AlternateURL string `json:"alternate_url"`
	// URLs are every advertised client URL (--advertise-client-urls), http:// and https://
	// mixed: a TLS client picks an https:// one, a plain client an http:// one.
	URLs []string `json:"urls"`
	// AlternateURLs are every --advertise-alternate-client-urls entry.
	AlternateURLs []string `json:"alternate_urls"`
	PeerURL       string   `json:"peer_url"`
	Database      bool     `json:"database"`
	Roles         []string `json:"roles"`
	Status        string   `json:"status"`
	Message       string   `json:"message"`
	FailureDomain int      `json:"failure_domain"`
	// AppliedIndex is 0 when the answering node could not ask that member.
	AppliedIndex uint64 `json:"applied_index"`
	// QuorumPort is the UDP port the member answers quorum queries on (--listen-quorum-url),
	// 0 when it serves none. It is reached on the host of the client URL a client uses, its
	// alternate one included, as the member's HTTP port is.
	QuorumPort int `json:"quorum_port,omitempty"`
}

// ClusterMembers is the body of GET /v1/cluster/members.
type ClusterMembers struct {
	Generation uint64          `json:"generation"`
	Members    []ClusterMember `json:"members"`
}

// ClusterMemberState is the body of POST /v1/cluster/members/{name}/state.
type ClusterMemberState struct {
	Action string `json:"action"`
}

// V1Error is the body of every failed /v1 request (LXD's error shape).
type V1Error struct {
	Type      string `json:"type"`
	Error     string `json:"error"`
	ErrorCode int    `json:"error_code"`
}
