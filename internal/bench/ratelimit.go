package bench

import (
	"context"
	"sync/atomic"
	"time"
)

// Pacer spreads operations evenly at a fixed rate shared by every worker.
// Each Wait reserves the next free slot with a compare-and-swap and sleeps
// until it: no lock and no token goroutine. After a stall the schedule catches
// up by at most burst slots, so an idle pacer never releases a flood.
type Pacer struct {
	interval int64 // nanoseconds between slots; 0 = unlimited
	burst    int64 // slots that may be taken at once after idling
	start    time.Time
	next     atomic.Int64 // nanoseconds since start of the next free slot
}

// NewPacer paces at rate operations per second; rate <= 0 never waits.
func NewPacer(rate float64) *Pacer {
	p := &Pacer{start: time.Now(), burst: 1}
	if rate > 0 {
		p.interval = int64(float64(time.Second) / rate)
		if p.interval < 1 {
			p.interval = 1
		}
		// Allow a few slots of slack so scheduler jitter doesn't starve the rate.
		p.burst = max(1, int64(rate/100))
	}
	return p
}

// Wait blocks until the caller's slot, or returns ctx's error.
func (p *Pacer) Wait(ctx context.Context) error {
	if p.interval == 0 {
		return ctx.Err()
	}
	now := int64(time.Since(p.start))
	var slot int64
	for {
		cur := p.next.Load()
		slot = cur
		if floor := now - p.burst*p.interval; slot < floor {
			slot = floor
		}
		if p.next.CompareAndSwap(cur, slot+p.interval) {
			break
		}
	}
	d := time.Duration(slot - now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
