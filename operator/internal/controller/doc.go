// Package controller reconciles CairnClusters: it makes the Services, network policy, RBAC,
// PodDisruptionBudget and StatefulSets a cluster needs, grows and shrinks the raft membership
// one member at a time through Cairn's own SDK, restarts members one at a time (the leader
// last), and reports status.
//
// It owns what the operator writes to the API server and to the members. It must never decide
// a name (package names does) nor resolve a pod's addresses (package podaddr does), and it
// never changes more than one raft member at a time.
package controller
