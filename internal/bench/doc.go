// Package bench is the load generator behind cmd/cairn-bench: it drives any
// etcd v2-compatible HTTP endpoints (Cairn's or etcd's) with a workload, records
// latencies in HDR histograms, classifies errors and renders results. Requests
// go through its own allocation-free HTTP/1.1 client (raw.go) unless net/http
// is asked for, so that the generator takes as little CPU from the servers as
// it can.
//
// It owns only the client side of a benchmark. It must never import Cairn's
// server packages nor assume anything of the server beyond the etcd v2 wire
// API, so that the same numbers mean the same thing for Cairn and for etcd.
package bench
