package fsm

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
)

// appliedTracker holds the applied index and the readers waiting for it. A
// waiter costs one small struct and one channel in a min-heap keyed by the
// index it waits for; an apply wakes exactly the waiters it satisfies. No
// goroutine is started per waiter, and an apply with nobody waiting costs an
// atomic load.
type appliedTracker struct {
	index   atomic.Uint64
	waiting atomic.Int64 // len(heap), readable without the lock

	mu   sync.Mutex
	heap waiterHeap
}

type waiter struct {
	index uint64
	ch    chan struct{}
	pos   int // position in the heap, -1 once removed
}

func (t *appliedTracker) load() uint64 { return t.index.Load() }

// advance publishes idx and wakes every waiter it satisfies. Called only from
// the apply goroutine (Apply and Restore are never concurrent).
func (t *appliedTracker) advance(idx uint64) {
	t.index.Store(idx)
	if t.waiting.Load() == 0 {
		return
	}
	t.mu.Lock()
	for len(t.heap) > 0 && t.heap[0].index <= idx {
		w := heap.Pop(&t.heap).(*waiter)
		close(w.ch)
	}
	t.waiting.Store(int64(len(t.heap)))
	t.mu.Unlock()
}

func (t *appliedTracker) wait(ctx context.Context, idx uint64) error {
	if t.index.Load() >= idx {
		return nil
	}
	w := &waiter{index: idx, ch: make(chan struct{})}
	t.mu.Lock()
	heap.Push(&t.heap, w)
	t.waiting.Store(int64(len(t.heap)))
	t.mu.Unlock()
	// Re-check after registering: an advance between the first check and
	// the push saw no waiter and woke nobody.
	if t.index.Load() >= idx {
		t.remove(w)
		return nil
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		t.remove(w)
		// The apply may have won the race with the cancellation.
		if t.index.Load() >= idx {
			return nil
		}
		return ctx.Err()
	}
}

func (t *appliedTracker) remove(w *waiter) {
	t.mu.Lock()
	if w.pos >= 0 {
		heap.Remove(&t.heap, w.pos)
		t.waiting.Store(int64(len(t.heap)))
	}
	t.mu.Unlock()
}

type waiterHeap []*waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.pos = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	w.pos = -1
	*h = old[:n-1]
	return w
}
