package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Reads that arrive while a round is in flight share the next round, and never a round that
// was sent before they arrived.
func TestReadBatcherSharesRoundsAndNeverReusesAnEarlierOne(t *testing.T) {
	var rounds atomic.Int64
	release := make(chan struct{})
	b := &readBatcher{timeout: time.Second, fetch: func(ctx context.Context) (uint64, bool, error) {
		n := rounds.Add(1)
		<-release
		return uint64(n), false, nil
	}}
	first := b.join()
	// The first round is in flight; these 50 reads arrived after it was sent.
	var wg sync.WaitGroup
	got := make([]uint64, 50)
	for i := range got {
		r := b.join()
		if r == first {
			t.Fatal("a read joined a round sent before it arrived")
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-r.done; got[i] = r.idx }()
	}
	close(release)
	<-first.done
	wg.Wait()
	for i, idx := range got {
		if idx != 2 {
			t.Fatalf("read %d got round %d, want the second round", i, idx)
		}
	}
	if n := rounds.Load(); n != 2 {
		t.Fatalf("%d rounds for 51 reads, want 2", n)
	}
}
