// Package testcluster runs clusters of real Cairn nodes inside one test process: each node is
// the full node wiring (raft over real TCP on 127.0.0.1, HTTP on its own port, data in a
// temporary directory). Every integration test uses it; WithTLS runs the nodes on https://
// client and/or peer URLs with mutual TLS, using certificates from internal/tlsconf/tlstest.
//
// It owns the switchable network between the nodes (Partition, Isolate, Heal) and the node
// lifecycle (Kill, Stop, Restart). It must never reach into a node's state to make a test pass:
// tests observe nodes through their HTTP ports, and poll for conditions with CheckFor instead
// of sleeping.
package testcluster
