package testcluster

import (
	"testing"
	"time"
)

// CheckFor polls fn every sleep until it returns nil, and fails the test with fn's last error
// when total has passed. Tests wait for conditions this way, never for a fixed time.
func CheckFor(t testing.TB, total, sleep time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(sleep)
	}
	t.Fatalf("condition not met after %v: %v", total, err)
}
