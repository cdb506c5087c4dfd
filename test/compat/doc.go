// Package compat holds black-box compatibility tests: real cairnd processes
// (or real etcd 3.4 with CAIRN_COMPAT_TARGET=etcd) driven by clients Cairn
// did not write — etcdctl (ETCDCTL_API=2), go.etcd.io/etcd/client/v2 — and
// by raw HTTP compared with etcd's recorded wire samples. It never imports
// Cairn's internal packages: what it checks is what an unmodified etcd v2
// client sees.
package compat
