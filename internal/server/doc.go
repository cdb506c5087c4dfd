// Package server is one Cairn node's logic between the HTTP layer and raft: it stamps the
// leader's time on proposals, answers linearizable reads through a read index (asking the
// leader for it when it is a follower), runs the leader's TTL expiry loop, keeps the member
// view (raft configuration joined with the replicated member table) and publishes this node's
// own attributes.
//
// It owns the membership and timeout conditions (errors.go). It must never change the store
// except through the raft log, and never decide a wire code.
package server
