package server

import "errors"

var (
	// ErrNoLeader means no leader was known within the request's time.
	ErrNoLeader = errors.New("no leader")
	// ErrTimeout means the request's time ran out before an answer.
	ErrTimeout = errors.New("request timed out")
	// ErrMemberNotFound means no member has the given id.
	ErrMemberNotFound = errors.New("member not found")
	// ErrMemberExists means a member with that id is already in the cluster.
	ErrMemberExists = errors.New("member already exists")
	// ErrPeerURLExists means another member already uses one of the peer URLs.
	ErrPeerURLExists = errors.New("peer URL already in use by another member")
	// ErrMemberNotLearner means promotion was asked for a member that already votes.
	ErrMemberNotLearner = errors.New("member is not a learner")
	// ErrLearnerNotReady means a learner is too far behind the leader to be promoted safely.
	ErrLearnerNotReady = errors.New("learner is not in sync with the leader yet")
	// ErrUnhealthy means the change would leave the cluster without a working quorum.
	ErrUnhealthy = errors.New("change would cost the cluster its quorum")
	// ErrClusterIDMismatch means a peer belongs to another cluster.
	ErrClusterIDMismatch = errors.New("cluster ID mismatch")
	// ErrClusterVersionTooLow means a command was refused, before it was proposed, because a
	// member may be of a build that cannot apply it (a rolling upgrade not done yet).
	ErrClusterVersionTooLow = errors.New("cluster version too low")
	// ErrNotLeaderForLevel means only the leader raises the cluster's level.
	ErrNotLeaderForLevel = errors.New("only the leader raises the cluster version")
)
