// Package node builds and runs one Cairn node from its configuration: identity (member and
// cluster ids, kept in the data directory), listeners, store, FSM, raft, server logic and the
// HTTP servers on the client and peer ports, and it stops them in order. It puts TLS where the
// URLs say https://, with the configurations internal/tlsconf builds (it builds none itself).
//
// cmd/cairnd and internal/testcluster both start nodes through it, so a test runs exactly the
// wiring a user runs. It must hold no node logic of its own: that lives in server.
package node
