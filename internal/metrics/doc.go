// Package metrics declares every Prometheus metric a Cairn node exports, in one place: etcd's
// names, types, labels, units and help texts wherever the concept is the same (so etcd's alert
// rules and Grafana dashboard work unchanged), and Cairn's own as cairn_*. Each node owns one
// Set (in-process test clusters run several nodes, each with its own registry); the packages
// that observe get the Set from their configuration and only ever add to it.
//
// It must never decide anything for the code it measures, nor block it: observing is a counter
// or histogram update, and everything read at scrape time comes from Sources.
package metrics
