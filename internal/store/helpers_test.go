package store

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// t0 is the time base of the tests; the store never reads a clock.
var t0 = time.Date(2026, 11, 22, 2, 17, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ttlAt(d time.Duration) TTLOptions { return TTLOptions{ExpireTime: at(d)} }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantEvent checks a successful operation against etcd's JSON body.
func wantEvent(t testing.TB, e *Event, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error %v; want %s", err, want)
	}
	if got := mustJSON(t, e); got != want {
		t.Fatalf("event\n got %s\nwant %s", got, want)
	}
}

// wantErr checks a failure's sentinel, cause and index.
func wantErr(t testing.TB, err error, sentinel error, cause string, index uint64) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *store.Error; want %v", err, err, sentinel)
	}
	if !errors.Is(err, sentinel) || se.Cause != cause || se.Index != index {
		t.Fatalf("error = {%v %q %d}; want {%v %q %d}", se.Err, se.Cause, se.Index, sentinel, cause, index)
	}
}

func mustSet(t testing.TB, s *Store, key, value string) *Event {
	t.Helper()
	e, err := s.Set(key, false, value, TTLOptions{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// recv waits for one event or fails; a watcher's channel never blocks the
// store, so events are already there when the mutation returns.
func recv(t testing.TB, w *Watcher) *Event {
	t.Helper()
	select {
	case e, ok := <-w.EventChan():
		if !ok {
			t.Fatal("watcher channel closed")
		}
		return e
	default:
		t.Fatal("no event delivered")
		return nil
	}
}

func wantNoEvent(t testing.TB, w *Watcher) {
	t.Helper()
	select {
	case e, ok := <-w.EventChan():
		if ok {
			t.Fatalf("unexpected event %s", mustJSON(t, e))
		}
		t.Fatal("watcher channel unexpectedly closed")
	default:
	}
}

func wantClosed(t testing.TB, w *Watcher) {
	t.Helper()
	for {
		select {
		case _, ok := <-w.EventChan():
			if !ok {
				return
			}
		default:
			t.Fatal("watcher channel not closed")
		}
	}
}
