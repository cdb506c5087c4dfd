package main

import (
	"fmt"
	"io"

	"github.com/cairn-io/cairn/internal/bench"
)

// findServers returns the member processes to measure: --server-pids, or
// those listening on the endpoints' ports. Not finding them is no reason to
// give up the run; the result then carries no server figures.
func (o *options) findServers(stderr io.Writer) []int {
	if !o.serverCPU {
		return nil
	}
	if len(o.serverPIDs) > 0 {
		return o.serverPIDs
	}
	pids, err := bench.ListenerPIDs(o.cfg.Endpoints)
	if err != nil {
		fmt.Fprintf(stderr, "cairn-bench: servers' cpu not measured: %v\n", err)
		return nil
	}
	return pids
}
