// Package quorum is the client of Cairn's quorum queries: small read-only questions sent
// over UDP to several cluster members at once, signed with a shared HMAC key. An answer is
// trusted once a safe number of members (NeededReplies) have replied, taking the one with
// the highest index, so neither the leader nor the raft log is involved and no single
// stale member decides the result.
//
// The model follows Ganeti's ConfdClient: SendRequest queues or sends a salted request,
// ReceiveReply reads one reply and hands it to the callback as an Upcall, ExpireRequests
// tells the callback about requests that outlived their expiry, and WaitForReplies blocks
// until enough replies for one salt arrived. Query wraps all of that for the common case.
// FilterCallback is an optional callback wrapper that passes up only answers that change.
//
// The wire format lives in api/quorum. This package must never import Cairn's
// internal server packages: it is what tools outside the cluster link against.
package quorum
