package client

import (
	"errors"
	"fmt"

	"github.com/cairn-io/cairn/api"
)

// Error is a failure the server reported with an etcd v2 error code. errors.Is matches it
// against the sentinel of its code (client.ErrKeyNotFound, ...), whatever its cause and index.
type Error struct {
	Code    int
	Message string
	// Cause is what the server said went wrong (often the key).
	Cause string
	// Index is the store index when the error happened.
	Index uint64
	// Node is the member that answered, from X-Cairn-Node.
	Node string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("cairn: %d %s", e.Code, e.Message)
	if e.Cause != "" {
		s += " (" + e.Cause + ")"
	}
	if e.Node != "" {
		s += " [index " + fmt.Sprint(e.Index) + ", node " + e.Node + "]"
	}
	return s
}

// Is makes errors.Is(err, client.ErrKeyNotFound) true for every error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func codeError(code int) *Error { return &Error{Code: code, Message: api.Message(code)} }

// One sentinel per etcd v2 error code.
var (
	ErrKeyNotFound        = codeError(api.CodeKeyNotFound)
	ErrTestFailed         = codeError(api.CodeTestFailed)
	ErrNotFile            = codeError(api.CodeNotFile)
	ErrNotDir             = codeError(api.CodeNotDir)
	ErrNodeExist          = codeError(api.CodeNodeExist)
	ErrKeyIsPreserved     = codeError(api.CodeKeyIsPreserved)
	ErrRootReadOnly       = codeError(api.CodeRootROnly)
	ErrDirNotEmpty        = codeError(api.CodeDirNotEmpty)
	ErrUnauthorized       = codeError(api.CodeUnauthorized)
	ErrPrevValueRequired  = codeError(api.CodePrevValueRequired)
	ErrTTLNaN             = codeError(api.CodeTTLNaN)
	ErrIndexNaN           = codeError(api.CodeIndexNaN)
	ErrInvalidField       = codeError(api.CodeInvalidField)
	ErrInvalidForm        = codeError(api.CodeInvalidForm)
	ErrRefreshValue       = codeError(api.CodeRefreshValue)
	ErrRefreshTTLRequired = codeError(api.CodeRefreshTTLRequired)
	ErrRaftInternal       = codeError(api.CodeRaftInternal)
	ErrLeaderElect        = codeError(api.CodeLeaderElect)
	ErrWatcherCleared     = codeError(api.CodeWatcherCleared)
	// ErrEventIndexCleared ends a Watch whose next index left the server's history: events
	// were missed, and the caller must re-read the keys before watching again.
	ErrEventIndexCleared = codeError(api.CodeEventIndexCleared)
)

// Client-side failures.
var (
	// ErrNotConnected means no seed answered (Connect with FailIfNotConnected(true)).
	ErrNotConnected = errors.New("cairn: no seed answered")
	// ErrClusterNameMismatch means a node belongs to another cluster than ValidateClusterNameIs names.
	ErrClusterNameMismatch = errors.New("cairn: cluster name mismatch")
	// ErrNoNodes means no known node can take the request now.
	ErrNoNodes = errors.New("cairn: no usable node")
	// ErrPoolExhausted means every connection to the chosen node is in use (MaxConnectionsPerNode).
	ErrPoolExhausted = errors.New("cairn: connection pool exhausted")
	// ErrCircuitOpen means every node that could serve the call has its breaker open: each had
	// more than MaxErrorRate timeouts, transport errors or 5xx answers within ErrorRateWindow.
	// The error names those nodes (name and address).
	ErrCircuitOpen = errors.New("cairn: circuit breaker open")
	// ErrMemberNotFound means no member has the given name.
	ErrMemberNotFound = errors.New("cairn: member not found")
	// ErrClosed means the Cluster was closed.
	ErrClosed = errors.New("cairn: cluster closed")
	// ErrInvalidArgument means a call's arguments contradict each other.
	ErrInvalidArgument = errors.New("cairn: invalid argument")
)
