package robustness

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cairn-io/cairn/test/robustness/model"
)

// Watcher long-polls a recursive watch on a prefix, resuming after each event at the next
// index and moving to another member when its member fails. A 401 (index cleared) starts a new
// segment after the index the error reports.
type Watcher struct {
	Name    string
	Prefix  string // "/rob/": the key prefix; the watched directory is Prefix without the slash
	Members func() []*Member
	Pin     int

	mu   sync.Mutex
	w    model.Watch
	next uint64
}

// Start records the first index to watch from: the current index of the first member that
// answers, plus one.
func (w *Watcher) Start(ctx context.Context) error {
	hc := http.Client{Timeout: 3 * time.Second}
	for {
		for _, m := range w.Members() {
			_, _, idx, err := do(ctx, &hc, http.MethodGet, m.ClientURL()+"/v2/keys"+w.Prefix[:len(w.Prefix)-1], nil)
			if err == nil && idx > 0 {
				w.mu.Lock()
				w.next = idx + 1
				w.w = model.Watch{Name: w.Name, Prefix: w.Prefix, Segments: []model.WatchSegment{{From: w.next}}}
				w.mu.Unlock()
				return nil
			}
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// Next is the index the watcher waits for.
func (w *Watcher) Next() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Result returns what the watcher saw.
func (w *Watcher) Result() model.Watch {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.w
	out.Segments = append([]model.WatchSegment(nil), w.w.Segments...)
	return out
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	hc := http.Client{Timeout: 3 * time.Second}
	target := w.Pin
	dir := w.Prefix[:len(w.Prefix)-1]
	for ctx.Err() == nil {
		members := w.Members()
		m := members[target%len(members)]
		u := m.ClientURL() + "/v2/keys" + dir + "?wait=true&recursive=true&waitIndex=" + strconv.FormatUint(w.Next(), 10)
		status, a, _, err := do(ctx, &hc, http.MethodGet, u, nil)
		switch {
		case err != nil || (status != http.StatusOK && a.ErrorCode != 401):
			// A quiet watch times out and is renewed; a failed member is left for another.
			target++
			if err == nil {
				sleepCtx(ctx, 50*time.Millisecond)
			}
		case a.ErrorCode == 401:
			w.mu.Lock()
			w.next = a.Index + 1
			w.w.Segments = append(w.w.Segments, model.WatchSegment{From: w.next})
			w.mu.Unlock()
		case a.Node != nil:
			ev := model.WatchEvent{Action: a.Action, Key: a.Node.Key, Index: a.Node.ModifiedIndex}
			if a.Node.Value != nil {
				ev.Value = *a.Node.Value
			}
			w.mu.Lock()
			seg := &w.w.Segments[len(w.w.Segments)-1]
			seg.Events = append(seg.Events, ev)
			w.next = ev.Index + 1
			w.mu.Unlock()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
