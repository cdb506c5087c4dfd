// Package names derives every name, label and port the operator and the init step agree on
// from a CairnCluster's name, namespace and spec, as pure functions.
//
// It owns these contracts and nothing else: it must never talk to an API server, so that every
// name can be checked without one.
package names
