// Package httpapi serves Cairn's client HTTP API: etcd's v2 keys, members, stats, version and
// health endpoints, byte-compatible with etcd 3.4, plus the peer-port endpoints that followers
// use to reach the leader, the /livez and /readyz probes, the metrics port's handler
// (--listen-metrics-urls), the backup endpoint (cairnctl snapshot save), and the dashboard:
// internal/ui's files under /ui/ and its keys route /ui/api/v2/keys, which is /v2/keys where
// every write needs the root role.
//
// It owns request parsing, validation against the configured limits, the one mapping from
// internal errors to etcd's numeric codes and HTTP statuses (errors.go), and forwarding of
// leader-only requests to the leader in one hop. It must never touch raft or the store's state
// directly for writes: every change goes through Backend.Propose, so it reaches the raft log.
package httpapi
