// Package store owns Cairn's keyspace: etcd v2's hierarchical tree of keys and
// directories with created/modified indexes, TTLs (a min-heap of expiring
// nodes), hidden keys, the watch hub with its 1000-event history, the store
// statistics, and a compact snapshot encoding.
//
// It is pure and deterministic: it never reads a clock, starts a goroutine,
// touches the network or does I/O other than through the io.Writer/io.Reader
// it is handed. Time comes in as a value (the leader's time carried in each
// log entry), so every replica applying the same commands reaches the same
// state and emits the same events at the same indexes.
//
// It must never decide policy that belongs to callers: request limits, the
// mapping of errors to HTTP codes and the choice between Set, Create, Update
// and CompareAndSwap all live above it.
package store
