// Package auth owns Cairn's users and roles: the replicated auth state (the
// enabled flag, users with their password hashes and roles, roles with their
// key permissions, the token signing key), the commands that change it, the
// permission checks of etcd's v2 auth, password hashing, the cache of verified
// credentials, and signed login tokens.
//
// The state is immutable: applying a command returns a new State, so request
// goroutines read it without locks while the FSM replaces it. Apply is
// deterministic (hashes, keys and times arrive inside the command), so every
// replica reaches the same state.
//
// It never touches the network, the disk or the keyspace, and never decides
// HTTP codes: httpapi maps its sentinel errors to the wire in one place.
package auth
