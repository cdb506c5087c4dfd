// Package model is the robustness suite's specification of Cairn's v2 key semantics and the
// checks run on a recorded history: linearizability with porcupine, the global index, and
// watch streams. It only judges histories; it never talks to a server.
//
// # Why a model per key plus a separate global-index check
//
// Every successful write bumps one global etcd index, so keys are not independent objects and
// partitioning a porcupine history by key is not sound for a model that tracks exact global
// indexes. A single model of the whole keyspace would be, but it makes every pending (unknown
// outcome) write concurrent with every later operation on every key, and the search blows up.
// The suite therefore checks two things, each sound on its own:
//
//   - Per key, porcupine checks a model holding the key's value, its modifiedIndex and a floor
//     that every later write's index must exceed. Reads must return exactly the value and
//     modifiedIndex of the linearized state; a write's index must exceed the index of every
//     write linearized before it on that key; an X-Etcd-Index reported by any operation must
//     be at least that floor. Values are unique per write, so a value names its write.
//   - Across keys (CheckIndexes), in real time: two acknowledged writes never share an index,
//     a write that returned before another was invoked has the smaller index, and an operation
//     invoked after a write returned reports an X-Etcd-Index at least that write's index (a
//     stale read on any node shows up here even when the value check cannot see it).
//
// Together these are weaker than a whole-keyspace model only in histories where the index
// order between concurrent writes on different keys is wrong in a way no real-time order
// exposes; they never reject a correct history. Gaps in the index are allowed, because TTL
// expiry and keys outside the model also bump it.
//
// An operation whose outcome is unknown (timeout, connection cut after sending) has return
// time infinity and may or may not have been applied; when applied, its index is unknown until
// a read reveals it, so the model keeps modifiedIndex 0 ("unknown") and raises the floor by one.
package model
