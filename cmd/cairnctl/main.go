// Command cairnctl is Cairn's command line: keys, members and the cluster view, as a thin layer
// over the Go SDK (package client). It holds no logic of its own beyond flags and output: what
// it shows is what the SDK returns, so it never talks to a server by other means.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
