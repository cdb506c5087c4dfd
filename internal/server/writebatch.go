package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/fsm"
)

// maxWritesInFlight is how many entries of key writes the leader has proposed and not yet seen
// applied before it gathers the next writes into a batch. One: every write that arrives while
// an entry commits shares the next entry, and so its fsyncs and its replication. Two were
// measured too (put, 64 clients over three members, alternating runs): the leader's fsyncs
// overlap the followers' but each entry holds half as many writes, and the members' CPU per
// write was 6% higher for no more writes per second (docs/performance.md).
const maxWritesInFlight = 1

// maxLinger bounds how long a free slot waits for the writers just answered (release).
const maxLinger = 3 * time.Millisecond

// writeBatch is one entry's worth of key writes, gathered while earlier entries were in flight.
type writeBatch struct {
	cmds  [][]byte
	ctxs  []context.Context // each writer's: one that has ended is left out of the entry
	bytes int               // of cmds
	done  chan struct{}
	// Set before done closes, one each per command: the FSM's result, or why there is none.
	res  []fsm.Result
	errs []error
}

// writeBatcher folds concurrent key writes on the leader into batch entries (fsm.CmdBatch). A
// write that finds fewer than maxWritesInFlight entries in flight is proposed at once, alone, on
// the caller's goroutine, so an unloaded leader answers as fast as without batching; the others
// wait for a slot in batches of at most fsm.MaxBatchCommands commands and fsm.MaxBatchBytes.
// Nothing is reordered that a client could observe: a write joins a batch only while no answer
// has told its client it happened, and batches are proposed in the order they were started.
type writeBatcher struct {
	// apply proposes one entry carrying proposals writes and waits until it is applied here.
	apply func(ctx context.Context, data []byte, proposals int) (interface{}, error)
	// batches says whether the cluster's level lets a batch entry be proposed now.
	batches func() bool
	timeout time.Duration
	// linger bounds the wait of a free slot (release; 0: maxLinger); now is the clock that
	// times entries (nil: time.Now). Tests set both.
	linger time.Duration
	now    func() time.Time

	mu       sync.Mutex
	inflight int
	queue    []*writeBatch // waiting for a slot, oldest first
	queued   int           // commands in queue
	// While lingerFor > 0 a free slot waits for that many queued commands, or for the timer of
	// generation lingerGen, before it takes the oldest batch.
	lingerFor int
	lingerGen uint64
}

// propose replicates cmd, an encoded batchable command, and returns its result once applied.
func (b *writeBatcher) propose(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	b.mu.Lock()
	if b.inflight < maxWritesInFlight && len(b.queue) == 0 {
		b.inflight++
		b.mu.Unlock()
		start := b.clock()
		resp, err := b.apply(ctx, cmd, 1)
		b.release(1, b.clock().Sub(start))
		if err != nil {
			return nil, err
		}
		return singleResult(resp)
	}
	wb, i := b.joinLocked(ctx, cmd)
	b.mu.Unlock()
	select {
	case <-wb.done:
	case <-ctx.Done():
		// Once its batch is proposed the write may still commit, as a lone proposal may after
		// its caller gave up; a batch that has not started yet leaves it out (run).
		return nil, ctx.Err()
	}
	if err := wb.errs[i]; err != nil {
		return nil, err
	}
	return &wb.res[i], nil
}

// joinLocked adds cmd to the newest waiting batch that has room, or to a new one.
func (b *writeBatcher) joinLocked(ctx context.Context, cmd []byte) (*writeBatch, int) {
	b.queued++
	defer func() {
		if b.lingerFor > 0 && b.queued >= b.lingerFor {
			b.startLocked()
		}
	}()
	if n := len(b.queue); n > 0 {
		wb := b.queue[n-1]
		if len(wb.cmds) < fsm.MaxBatchCommands && wb.bytes+len(cmd) <= fsm.MaxBatchBytes {
			wb.cmds = append(wb.cmds, cmd)
			wb.ctxs = append(wb.ctxs, ctx)
			wb.bytes += len(cmd)
			return wb, len(wb.cmds) - 1
		}
	}
	wb := &writeBatch{cmds: [][]byte{cmd}, ctxs: []context.Context{ctx}, bytes: len(cmd), done: make(chan struct{})}
	b.queue = append(b.queue, wb)
	return wb, 0
}

// release frees the slot of an entry of size writes that took took to apply, and hands it to
// the oldest waiting batch: at once when as many writes wait as were just answered, else once
// the answered writers had time to send their next (lingerFor).
//
// The wait is what makes batches grow with the load. Without it, writers that arrive while an
// entry is in flight fill the next one, and those answered by that entry come back to find it
// gone: a steady load splits into two alternating halves, each paying a whole round of fsyncs
// and replication. Writers answered together tend to come back together, so waiting for that
// many arrivals, for no longer than the entry took to commit nor than maxLinger, folds them
// into one; a load of writers that do not come back pays at most that much more latency.
func (b *writeBatcher) release(size int, took time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight--
	if len(b.queue) == 0 || b.inflight >= maxWritesInFlight {
		return
	}
	want := min(b.queued+size, fsm.MaxBatchCommands)
	limit := b.linger
	if limit <= 0 {
		limit = maxLinger
	}
	wait := min(took, limit)
	if b.queued >= want || wait <= 0 {
		b.startLocked()
		return
	}
	b.lingerFor = want
	b.lingerGen++
	gen := b.lingerGen
	time.AfterFunc(wait, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.lingerFor > 0 && b.lingerGen == gen {
			b.startLocked()
		}
	})
}

func (b *writeBatcher) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// startLocked proposes the oldest waiting batch in a slot of its own.
func (b *writeBatcher) startLocked() {
	b.lingerFor = 0
	wb := b.queue[0]
	b.queue[0] = nil
	b.queue = b.queue[1:]
	b.queued -= len(wb.cmds)
	b.inflight++
	go b.run(wb)
}

// run proposes a gathered batch and answers its writers. The entry outlives any one writer: one
// that gives up must not fail the others.
func (b *writeBatcher) run(wb *writeBatch) {
	start := b.clock()
	defer func() { b.release(len(wb.cmds), b.clock().Sub(start)) }()
	defer close(wb.done)
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	wb.res = make([]fsm.Result, len(wb.cmds))
	wb.errs = make([]error, len(wb.cmds))
	// A writer that gave up while its write waited for a slot was answered with its context's
	// error before anything was proposed: its write must not happen behind its back.
	live := make([]int, 0, len(wb.cmds))
	for i, c := range wb.ctxs {
		if err := c.Err(); err != nil {
			wb.errs[i] = err
		} else {
			live = append(live, i)
		}
	}
	if len(live) <= 1 || !b.batches() {
		b.runEach(ctx, wb, live)
		return
	}
	cmds := make([][]byte, len(live))
	for j, i := range live {
		cmds[j] = wb.cmds[i]
	}
	resp, err := b.apply(ctx, fsm.MarshalBatch(cmds), len(cmds))
	if err == nil {
		br, ok := resp.(*fsm.BatchResult)
		switch {
		case !ok:
			err = fmt.Errorf("unexpected apply response %T to a batch", resp)
		case br.Err != nil:
			err = br.Err
		case len(br.Results) != len(cmds):
			err = fmt.Errorf("a batch of %d writes applied as %d", len(cmds), len(br.Results))
		default:
			for j, i := range live {
				wb.res[i] = br.Results[j]
			}
			return
		}
	}
	for _, i := range live {
		wb.errs[i] = err
	}
}

// runEach proposes the writes of a batch at positions live as entries of their own,
// concurrently (raft still shares one fsync among them): for a batch of one, or when the
// cluster's level has fallen below batches (this member restored an older snapshot) since the
// writes were admitted.
func (b *writeBatcher) runEach(ctx context.Context, wb *writeBatch, live []int) {
	var wg sync.WaitGroup
	for _, i := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.apply(ctx, wb.cmds[i], 1)
			if err == nil {
				var res *fsm.Result
				if res, err = singleResult(resp); err == nil {
					wb.res[i] = *res
				}
			}
			wb.errs[i] = err
		}()
	}
	wg.Wait()
}

func singleResult(resp interface{}) (*fsm.Result, error) {
	res, ok := resp.(*fsm.Result)
	if !ok {
		return nil, fmt.Errorf("unexpected apply response %T", resp)
	}
	return res, nil
}
