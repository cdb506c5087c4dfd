// Package backup checks online backup and restore from outside, as an operator runs them:
// cairnctl snapshot save against a cluster of real cairnd processes while a writer runs,
// snapshot status, snapshot restore into a new three-member cluster, and a damaged file
// refused. It reaches into no Cairn package: only the binaries and the HTTP API.
package backup
