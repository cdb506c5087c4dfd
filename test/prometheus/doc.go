// Package prometheus scrapes a cluster of real cairnd processes with a real Prometheus
// server (Debian's prometheus) under the job name etcd, loads the alert rules Debian's
// etcd-server package ships, and checks that the etcd-compatible metrics drive them as they
// would for etcd. It must never copy those rules into the repository: they are read from the
// installed package.
package prometheus
