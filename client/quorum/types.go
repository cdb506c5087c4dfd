package quorum

import (
	"encoding/json"

	wire "github.com/cairn-io/cairn/api/quorum"
)

// QueryType selects what a Request asks.
type QueryType = wire.QueryType

// The query types. A Request's Query holds the key path for QueryKey and the member name
// for QueryNodeRole, and is empty otherwise.
const (
	QueryPing     = wire.QueryPing
	QueryKey      = wire.QueryKey
	QueryLeader   = wire.QueryLeader
	QueryMembers  = wire.QueryMembers
	QueryNodeRole = wire.QueryNodeRole
)

// Status is a reply's status.
type Status = wire.Status

// Reply statuses.
const (
	StatusOK             = wire.StatusOK
	StatusError          = wire.StatusError
	StatusNotImplemented = wire.StatusNotImplemented
)

// Answer shapes, decoded from Reply.Answer with Reply.Decode.
type (
	KeyAnswer      = wire.KeyAnswer
	LeaderAnswer   = wire.LeaderAnswer
	Member         = wire.Member
	NodeRoleAnswer = wire.NodeRoleAnswer
)

// Request is one query.
type Request struct {
	Type  QueryType
	Query string
}

// Reply is one member's answer. Answer is JSON in the query type's shape when Status is
// StatusOK, and a message otherwise. Index is the member's applied raft index when it
// answered; Salt is the hex salt of the request it answers.
type Reply struct {
	Status Status
	Answer string
	Index  uint64
	Node   string
	Salt   string
}

// Decode unmarshals an OK reply's answer into v (a *KeyAnswer, *LeaderAnswer, *[]Member,
// *NodeRoleAnswer or *bool for ping).
func (r Reply) Decode(v any) error {
	return json.Unmarshal([]byte(r.Answer), v)
}

// UpcallKind tells a callback why it is called.
type UpcallKind int

// Upcall kinds.
const (
	UpcallReply  UpcallKind = iota + 1 // a member replied
	UpcallExpire                       // a request expired; Reply and Server are empty
)

func (k UpcallKind) String() string {
	switch k {
	case UpcallReply:
		return "reply"
	case UpcallExpire:
		return "expire"
	}
	return "unknown"
}

// Upcall is what the client hands its callback.
type Upcall struct {
	Salt    string
	Kind    UpcallKind
	Request Request
	Reply   Reply
	Server  string // the replying member's address, host:port
}
