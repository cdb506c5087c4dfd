// Package faults is the robustness suite's network: a small fault-injecting TCP proxy that sits
// in front of one member's peer port and decides, per source IP (each member dials its peers
// from its own loopback address), whether traffic passes, is delayed, is lost, or is cut off.
// It never looks inside the bytes it forwards and knows nothing about Cairn.
//
// Toxiproxy was considered: its toxics apply to a whole proxy, not per client address, and it
// runs as a separate server; a partition between two particular members needs the source.
package faults
