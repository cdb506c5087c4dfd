//go:build linux

package bench

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time of the calling OS thread, a clock the meter does not read.
func threadCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The meter sees at least the CPU a busy loop burned, however long the machine (shared with
// other work) took to give it that much, and never more cores than there are.
func TestCPUMeterSeesBusyWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const burn = 50 * time.Millisecond
	m := startCPU()
	start := threadCPU(t)
	deadline := time.Now().Add(30 * time.Second)
	x := 0
	for threadCPU(t)-start < burn {
		for range 10000 {
			x++
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loop got %v of CPU in 30s", threadCPU(t)-start)
		}
	}
	wall := time.Since(m.wall)
	c := m.cores()
	if used := time.Duration(c * float64(wall)); used < burn*9/10 || c > float64(runtime.NumCPU())+0.5 {
		t.Fatalf("a loop that burned %v in %v measured %.2f cores (%v; x=%d)", burn, wall, c, used, x)
	}
}
