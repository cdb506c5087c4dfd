// Package api holds the wire types that Cairn's server and its Go client share: etcd v2 error
// codes and their messages, member and version documents, and Cairn's own /v1 cluster view.
//
// It owns the shape of what crosses the network and nothing else: it must never import server
// packages, and it never decides which internal condition becomes which code (httpapi does that,
// in one place).
package api
