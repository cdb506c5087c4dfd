package bench

import (
	"testing"
	"time"
)

func TestCPUMeterSeesBusyWork(t *testing.T) {
	m := startCPU()
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	// One goroutine spinning for the whole interval uses about one core.
	if c := m.cores(); c < 0.3 || c > 2.5 {
		t.Fatalf("a busy loop measured %.2f cores (x=%d)", c, x)
	}
}
