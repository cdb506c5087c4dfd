package bench

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestPacerHoldsRateAcrossWorkers(t *testing.T) {
	p := NewPacer(500) // one slot every 2 ms
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if err := p.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 100 slots at 2 ms, less the 5-slot burst: at least 190 ms.
	if el := time.Since(start); el < 180*time.Millisecond {
		t.Fatalf("100 waits at 500/s took %v: the rate was exceeded", el)
	}
}

func TestPacerDoesNotBankIdleTime(t *testing.T) {
	p := NewPacer(100)                             // 10 ms slots, burst 1
	p.start = p.start.Add(-100 * time.Millisecond) // as if created and left idle 100 ms ago
	start := time.Now()
	for range 6 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Without the floor, 100 ms of idling would release all six at once.
	if el := time.Since(start); el < 35*time.Millisecond {
		t.Fatalf("6 waits after idling took %v: idle time was banked as a burst", el)
	}
}

func TestPacerUnlimitedAndCancel(t *testing.T) {
	p := NewPacer(0)
	start := time.Now()
	for range 100000 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("unlimited pacer waited %v", el)
	}
	slow := NewPacer(0.5)
	_ = slow.Wait(context.Background()) // the first slot is immediate
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := slow.Wait(ctx); err == nil {
		t.Fatal("Wait on a cancelled context returned nil")
	}
}
