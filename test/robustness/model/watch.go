package model

import (
	"fmt"
)

// WatchEvent is one event a watcher received.
type WatchEvent struct {
	Action string `json:"action"`
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Index  uint64 `json:"index"` // the node's modifiedIndex
}

// WatchSegment is a run of events received without a gap: it starts at the waitIndex the
// watcher asked for and ends where a 401 (index cleared) made it skip ahead.
type WatchSegment struct {
	From   uint64       `json:"from"`
	Events []WatchEvent `json:"events"`
}

// Watch is everything one watcher saw, with the key prefix it watched.
type Watch struct {
	Name     string         `json:"name"`
	Prefix   string         `json:"prefix"`
	Segments []WatchSegment `json:"segments"`
}

// Last is the index of the last event received, or 0.
func (w *Watch) Last() uint64 {
	for i := len(w.Segments) - 1; i >= 0; i-- {
		if ev := w.Segments[i].Events; len(ev) > 0 {
			return ev[len(ev)-1].Index
		}
	}
	return 0
}

// CheckWatch checks one watcher against the history: events in strictly increasing index
// order (so none repeated), every acknowledged write under the prefix inside a segment's range
// delivered with its key and value, and every other event explained by a write whose outcome
// is unknown.
func CheckWatch(w Watch, ops []Op, max int) []string {
	var problems []string
	report := func(format string, args ...any) bool {
		problems = append(problems, fmt.Sprintf("watcher %s: ", w.Name)+fmt.Sprintf(format, args...))
		return len(problems) < max
	}
	ackedAt := map[uint64]Op{}
	pendingValue := map[string]bool{}
	pendingDelete := map[string]bool{}
	for _, op := range ops {
		if !op.Input.IsWrite() || len(op.Input.Key) < len(w.Prefix) || op.Input.Key[:len(w.Prefix)] != w.Prefix {
			continue
		}
		switch {
		case acked(op):
			ackedAt[op.Output.Mod] = op
		case op.Output.Unknown && op.Input.Kind == Delete:
			pendingDelete[op.Input.Key] = true
		case op.Output.Unknown:
			pendingValue[op.Input.Key+"\x00"+op.Input.Value] = true
		}
	}
	var prev uint64
	for _, seg := range w.Segments {
		if seg.From <= prev {
			if !report("segment restarts at %d after index %d", seg.From, prev) {
				return problems
			}
		}
		seen := map[uint64]WatchEvent{}
		for _, ev := range seg.Events {
			if ev.Index <= prev || ev.Index < seg.From {
				if !report("event %s %s@%d out of order (after %d, segment from %d)", ev.Action, ev.Key, ev.Index, prev, seg.From) {
					return problems
				}
			}
			prev = ev.Index
			seen[ev.Index] = ev
			if op, ok := ackedAt[ev.Index]; ok {
				if op.Input.Key != ev.Key || (op.Input.Kind != Delete && op.Input.Value != ev.Value) ||
					(op.Input.Kind == Delete) != (ev.Action == "delete") {
					if !report("event %s %s=%q@%d does not match the write acknowledged at that index: %s",
						ev.Action, ev.Key, ev.Value, ev.Index, Describe(op.Input, op.Output)) {
						return problems
					}
				}
				continue
			}
			explained := pendingValue[ev.Key+"\x00"+ev.Value]
			if ev.Action == "delete" {
				explained = pendingDelete[ev.Key]
			}
			if !explained {
				if !report("event %s %s=%q@%d matches no write", ev.Action, ev.Key, ev.Value, ev.Index) {
					return problems
				}
			}
		}
		if len(seg.Events) == 0 {
			continue
		}
		end := seg.Events[len(seg.Events)-1].Index
		for idx := seg.From; idx <= end; idx++ {
			if op, ok := ackedAt[idx]; ok {
				if _, got := seen[idx]; !got {
					if !report("missed %s at index %d (segment %d..%d)", Describe(op.Input, op.Output), idx, seg.From, end) {
						return problems
					}
				}
			}
		}
	}
	return problems
}
