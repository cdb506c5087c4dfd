package procs

import (
	"fmt"
	"net"
	"sync"
)

var (
	portsMu sync.Mutex
	// handedOut keeps a port from being given twice in one test binary: the
	// kernel may hand a just-closed ephemeral port back to the next Listen.
	handedOut = map[int]bool{}
)

// FreePort returns a loopback TCP port that was free a moment ago and that
// this process has not handed out before.
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for attempt := 0; attempt < 100; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no fresh free port after 100 attempts")
}
