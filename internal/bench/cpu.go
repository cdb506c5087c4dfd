package bench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far. The
// generator shares the machine with the servers it drives, so a result reports
// how many cores the generator itself used: a figure close to the machine's
// core count means the generator, not the server, was the bound.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the average cores used between its creation and done.
type cpuMeter struct {
	wall time.Time
	cpu  time.Duration
}

func startCPU() cpuMeter { return cpuMeter{wall: time.Now(), cpu: cpuTime()} }

func (m cpuMeter) cores() float64 {
	wall := time.Since(m.wall)
	if wall <= 0 {
		return 0
	}
	return float64(cpuTime()-m.cpu) / float64(wall)
}
