package ports

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	mu sync.Mutex
	// handedOut keeps an address from being given twice in one test binary: the kernel may
	// hand a just-closed ephemeral port back to the next Listen.
	handedOut = map[string]bool{}
)

// Free returns a TCP port on ip that was free a moment ago and that this process has not
// handed out before.
func Free(ip string) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		addr := net.JoinHostPort(ip, fmt.Sprint(port))
		if !handedOut[addr] {
			handedOut[addr] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("ports: no fresh free port on %s after 100 attempts", ip)
}

// InUseText is how the Go runtime (and etcd, and cairnd) words a bind that lost the race; a
// child process's error reaches the test only as text in its output.
const InUseText = "address already in use"

// InUse reports whether err is a bind that found its address taken.
func InUse(err error) bool {
	return err != nil && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), InUseText))
}

// pause is the wait between attempts: long enough for a short-lived client socket that took
// the port to close.
const pause = 50 * time.Millisecond

// Retry runs try until it succeeds, fails other than with an address in use, or timeout has
// passed since the first attempt; it returns try's last error.
func Retry(timeout time.Duration, try func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := try()
		if !InUse(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
	}
}

// Listen binds addr, retrying while it is in use for up to timeout: a restarted in-process
// server takes back the ports it had.
func Listen(addr string, timeout time.Duration) (net.Listener, error) {
	var ln net.Listener
	err := Retry(timeout, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}
