// Package robustness runs three real cairnd processes behind fault-injecting proxies, drives a
// recorded client load over all of them while faults are injected one at a time in a seeded
// random order, and checks the history: linearizability (porcupine, model in ./model), the
// global index, no acknowledged write lost after a full-cluster restart, watch streams, and
// TTLs across leader changes. Its members run on test/procs's Process with their own command
// lines, because every member needs its own loopback address (127.0.0.1x), which procs's
// clusters do not offer; it never reaches into Cairn's packages, only the command line and the
// HTTP API.
//
// The short run is part of `go test ./...`; `make robustness DURATION=30m` sets
// ROBUSTNESS_DURATION for the long one. See docs/robustness.md.
package robustness
