package bench

import (
	"testing"
	"time"
)

// A busy loop shows up in the meter. The loop runs until the process has
// used 50 ms of CPU rather than for 50 ms of wall time: on a loaded machine
// it may get a fifth of a core, and what is checked is the meter, not the
// machine's load.
func TestCPUMeterSeesBusyWork(t *testing.T) {
	m := startCPU()
	x := 0
	deadline := time.Now().Add(20 * time.Second)
	for cpuTime()-m.cpu < 50*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the meter saw %v of CPU after 20 s of busy work", cpuTime()-m.cpu)
		}
		x++
	}
	if c := m.cores(); c <= 0 || c > 2.5 {
		t.Fatalf("a busy loop measured %.2f cores (x=%d)", c, x)
	}
}
