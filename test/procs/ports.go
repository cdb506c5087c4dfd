package procs

import "github.com/cairn-io/cairn/test/ports"

// FreePort returns a loopback TCP port that was free a moment ago and that
// this process has not handed out before.
func FreePort() (int, error) { return ports.Free("127.0.0.1") }
