package quorum

import wire "github.com/cairn-io/cairn/api/quorum"

// Member is one cluster member as MEMBERS and NODE_ROLE report it.
type Member = wire.Member

// Source is the node state the server reads. Every method must be safe for concurrent use
// and fast: the server calls them on its receive loop.
type Source interface {
	// Name is this node's member name, sent in every reply.
	Name() string
	// AppliedIndex is the raft index of the last entry applied to the store. The server
	// reads it before the answer, so the index it reports never exceeds the state behind
	// the answer: an under-reported index can only lose to other members, never mislead.
	AppliedIndex() uint64
	// GetKey reads a key from the local store (a serializable read). found is false for a
	// missing key; err is for anything else (a directory, an invalid path) and is sent to
	// the client as a StatusError message.
	GetKey(key string) (value string, modifiedIndex uint64, found bool, err error)
	// Leader is the current leader's member name and client URL, ok false when unknown.
	Leader() (name, url string, ok bool)
	// Members lists every member with its role ("leader", "follower", "learner", ...).
	// NODE_ROLE is answered from it too, so both queries always agree.
	Members() []Member
}
