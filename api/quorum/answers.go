package quorum

// Answers travel as JSON in a reply's answer field. Servers must encode them
// deterministically (struct fields in declaration order, members sorted by name) because
// clients compare answers byte for byte to detect members that disagree.

// KeyAnswer answers QueryKey. Found is false when the key does not exist at the node's
// applied index; Value and ModifiedIndex are then empty.
type KeyAnswer struct {
	Key           string `json:"key"`
	Found         bool   `json:"found"`
	Value         string `json:"value,omitempty"`
	ModifiedIndex uint64 `json:"modifiedIndex,omitempty"`
}

// LeaderAnswer answers QueryLeader. Known is false while the node knows no leader.
type LeaderAnswer struct {
	Known bool   `json:"known"`
	Name  string `json:"name,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Member is one entry of the answer to QueryMembers.
type Member struct {
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	Role       string   `json:"role"`
}

// NodeRoleAnswer answers QueryNodeRole. Found is false when no member has that name.
type NodeRoleAnswer struct {
	Name  string `json:"name"`
	Found bool   `json:"found"`
	Role  string `json:"role,omitempty"`
}
