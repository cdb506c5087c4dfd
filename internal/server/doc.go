// Package server is one Cairn node's logic between the HTTP layer and raft: it stamps the
// leader's time on proposals, answers linearizable reads through a read index (asking the
// leader for it when it is a follower), runs the leader's TTL expiry loop, keeps the member
// view (raft configuration joined with the replicated member table) and publishes this node's
// own attributes. It keeps the cluster version (version.go): it publishes this build's level,
// raises the cluster's on the leader once every member publishes a higher one, and never
// proposes a command the cluster's level does not cover.
//
// It owns the membership, timeout and cluster version conditions (errors.go). It must never change the store
// except through the raft log, and never decide a wire code.
package server
