package store

import (
	"fmt"
	"testing"
	"time"
)

func mustWatch(t testing.TB, s *Store, key string, recursive, stream bool, since uint64) *Watcher {
	t.Helper()
	w, err := s.Watch(key, recursive, stream, since)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWatchWhoIsNotified(t *testing.T) {
	tests := []struct {
		name      string
		watch     string
		recursive bool
		op        func(s *Store)
		want      string // key of the delivered event, "" for none
	}{
		{"exact key", "/a/b", false, func(s *Store) { mustSet(t, s, "/a/b", "1") }, "/a/b"},
		{"other key", "/a/b", false, func(s *Store) { mustSet(t, s, "/a/c", "1") }, ""},
		{"child needs recursive", "/a", false, func(s *Store) { mustSet(t, s, "/a/b", "1") }, ""},
		{"recursive child", "/a", true, func(s *Store) { mustSet(t, s, "/a/b/c", "1") }, "/a/b/c"},
		{"recursive is not a string prefix", "/a", true, func(s *Store) { mustSet(t, s, "/ab", "1") }, ""},
		{"recursive root", "/", true, func(s *Store) { mustSet(t, s, "/x/y", "1") }, "/x/y"},
		{"hidden child skipped", "/a", true, func(s *Store) { mustSet(t, s, "/a/_h", "1") }, ""},
		{"hidden dir below skipped", "/", true, func(s *Store) { mustSet(t, s, "/_h/x", "1") }, ""},
		{"hidden key watched by name", "/a/_h", false, func(s *Store) { mustSet(t, s, "/a/_h", "1") }, "/a/_h"},
		{"inside a watched hidden dir", "/_h", true, func(s *Store) { mustSet(t, s, "/_h/x", "1") }, "/_h/x"},
		{"dir delete reaches existing keys below", "/d/k", false, func(s *Store) { s.Delete("/d", true, true, t0) }, "/d"},
		{"dir delete reaches hidden keys below", "/d/_k", false, func(s *Store) { s.Delete("/d", true, true, t0) }, "/d"},
		{"dir delete skips keys that do not exist", "/d/nope", false, func(s *Store) { s.Delete("/d", true, true, t0) }, ""},
		{"dir delete not a prefix match", "/dd", false, func(s *Store) { s.Delete("/d", true, true, t0) }, ""},
		{"refresh wakes nobody", "/d/k", false, func(s *Store) {
			s.Update("/d/k", "", TTLOptions{ExpireTime: at(time.Second), Refresh: true}, t0)
		}, ""},
		{"failed op wakes nobody", "/d/k", false, func(s *Store) { s.Create("/d/k", false, "x", false, TTLOptions{}, t0) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			mustSet(t, s, "/d/k", "1")
			mustSet(t, s, "/d/_k", "1")
			mustSet(t, s, "/dd", "1")
			w := mustWatch(t, s, tc.watch, tc.recursive, false, 0)
			tc.op(s)
			if tc.want == "" {
				wantNoEvent(t, w)
				if s.WatcherCount() != 1 {
					t.Fatalf("WatcherCount %d", s.WatcherCount())
				}
				w.Remove()
				return
			}
			if e := recv(t, w); e.Node.Key != tc.want {
				t.Fatalf("got event for %s", e.Node.Key)
			}
			if s.WatcherCount() != 0 {
				t.Fatalf("one-shot watcher still registered: %d", s.WatcherCount())
			}
		})
	}
}

func TestWatchFromHistory(t *testing.T) {
	s := New()
	mustSet(t, s, "/a", "1")                                                       // 1
	mustSet(t, s, "/b", "1")                                                       // 2
	s.Update("/a", "", TTLOptions{ExpireTime: at(time.Minute), Refresh: true}, t0) // 3 (refresh: skipped)
	if _, err := s.Set("/a/../x", false, "never", TTLOptions{}, t0); err == nil {
		t.Fatal("invalid key accepted") // and it must not use up an index
	}
	mustSet(t, s, "/c/_h", "1")    // 4
	mustSet(t, s, "/c/k", "1")     // 5
	s.Delete("/c", true, true, t0) // 6

	tests := []struct {
		key       string
		recursive bool
		since     uint64
		want      uint64 // index of the delivered event, 0 for "registered, nothing yet"
	}{
		{"/a", false, 1, 1},
		{"/a", false, 2, 0}, // the refresh at 3 is not an event for watchers
		{"/b", false, 1, 2},
		{"/", true, 3, 5}, // hidden /c/_h at 4 is skipped
		{"/c/k", false, 6, 6},
		{"/c/never", false, 6, 6}, // history answers a dir delete for any key below
		{"/c", true, 4, 5},
		{"/a", false, 7, 0},
		{"/a", false, 100, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%v-%d", tc.key, tc.recursive, tc.since), func(t *testing.T) {
			w := mustWatch(t, s, tc.key, tc.recursive, false, tc.since)
			defer w.Remove()
			if tc.want == 0 {
				wantNoEvent(t, w)
				return
			}
			e := recv(t, w)
			if e.Index() != tc.want || e.EtcdIndex != 6 || w.StartIndex() != 6 {
				t.Fatalf("event %d etcdIndex %d start %d; want event %d at 6", e.Index(), e.EtcdIndex, w.StartIndex(), tc.want)
			}
		})
	}
	if s.WatcherCount() != 0 {
		t.Fatalf("WatcherCount %d after removes", s.WatcherCount())
	}
}

func mustSetQuiet(s *Store, key, value string) {
	if _, err := s.Set(key, false, value, TTLOptions{}, t0); err != nil {
		panic(err)
	}
}

func TestWatchHistoryCleared(t *testing.T) {
	s := New()
	for i := 0; i < 1500; i++ {
		mustSetQuiet(s, "/k", "v")
	}
	_, err := s.Watch("/k", false, false, 500)
	wantErr(t, err, ErrEventIndexCleared, "the requested history has been cleared [501/500]", 1500)
	w := mustWatch(t, s, "/k", false, false, 501)
	if e := recv(t, w); e.Index() != 501 {
		t.Fatalf("got %d", e.Index())
	}
}

func TestWatchFutureIndex(t *testing.T) {
	s := New()
	w := mustWatch(t, s, "/k", false, false, 3)
	mustSet(t, s, "/k", "1")
	wantNoEvent(t, w)
	mustSet(t, s, "/k", "2")
	mustSet(t, s, "/k", "3")
	if e := recv(t, w); e.Index() != 3 {
		t.Fatalf("got %d", e.Index())
	}
}

func TestStreamWatcher(t *testing.T) {
	s := New()
	mustSet(t, s, "/q/1", "a") // 1
	mustSet(t, s, "/x", "a")   // 2
	mustSet(t, s, "/q/2", "b") // 3
	w := mustWatch(t, s, "/q", true, true, 1)
	mustSet(t, s, "/q/3", "c")                                                            // 4
	s.Set("/q/3", false, "c", TTLOptions{ExpireTime: at(time.Second), Refresh: true}, t0) // 5: silent
	s.Delete("/q", true, true, t0)                                                        // 6
	for _, want := range []uint64{1, 3, 4, 6} {
		if e := recv(t, w); e.Index() != want {
			t.Fatalf("got %d; want %d", e.Index(), want)
		}
	}
	wantNoEvent(t, w)
	if s.WatcherCount() != 1 {
		t.Fatalf("stream watcher not kept: %d", s.WatcherCount())
	}
	w.Remove()
	w.Remove() // idempotent
	wantClosed(t, w)
	if s.WatcherCount() != 0 {
		t.Fatalf("WatcherCount %d", s.WatcherCount())
	}
}

// A stream watcher watching a key that is deleted as part of its directory
// gets the event once, not once per path it is reached by.
func TestStreamWatcherGetsDirDeleteOnce(t *testing.T) {
	s := New()
	mustSet(t, s, "/d/k", "1")
	w := mustWatch(t, s, "/d/k", true, true, 0)
	wd := mustWatch(t, s, "/d", true, true, 0)
	s.Delete("/d", true, true, t0)
	for _, x := range []*Watcher{w, wd} {
		if e := recv(t, x); e.Action != Delete || e.Node.Key != "/d" {
			t.Fatalf("got %s", mustJSON(t, e))
		}
		wantNoEvent(t, x)
	}
}

func TestStreamOverflowDropsWatcher(t *testing.T) {
	s := New()
	w := mustWatch(t, s, "/k", false, true, 0)
	for i := 0; i < streamBuffer; i++ {
		mustSet(t, s, "/k", "v")
	}
	if s.WatcherCount() != 1 {
		t.Fatal("dropped before overflowing")
	}
	mustSet(t, s, "/k", "overflow")
	if s.WatcherCount() != 0 {
		t.Fatal("overflowing watcher still registered")
	}
	// Everything queued is still readable, in order, then the channel closes.
	for i := 1; i <= streamBuffer; i++ {
		if e := recv(t, w); e.Index() != uint64(i) {
			t.Fatalf("event %d has index %d", i, e.Index())
		}
	}
	wantClosed(t, w)
	w.Remove() // safe after an overflow
}

func TestStreamReplayLargerThanBuffer(t *testing.T) {
	s := New()
	for i := 0; i < 300; i++ {
		mustSetQuiet(s, "/k", "v")
	}
	w := mustWatch(t, s, "/k", false, true, 1)
	mustSet(t, s, "/k", "live")
	for i := uint64(1); i <= 301; i++ {
		if e := recv(t, w); e.Index() != i {
			t.Fatalf("got %d; want %d", e.Index(), i)
		}
	}
}

func TestRemoveBeforeFire(t *testing.T) {
	s := New()
	ws := []*Watcher{mustWatch(t, s, "/k", false, false, 0), mustWatch(t, s, "/k", false, false, 0), mustWatch(t, s, "/k", true, false, 0)}
	ws[1].Remove()
	if s.WatcherCount() != 2 {
		t.Fatalf("WatcherCount %d", s.WatcherCount())
	}
	mustSet(t, s, "/k", "v")
	recv(t, ws[0])
	recv(t, ws[2])
	wantClosed(t, ws[1])
	if s.WatcherCount() != 0 {
		t.Fatalf("WatcherCount %d", s.WatcherCount())
	}
	// Removing a watcher that already fired leaves its event readable.
	ws[0].Remove()
	if s.WatcherCount() != 0 || len(s.hub.paths) != 0 {
		t.Fatalf("hub not empty: %d paths", len(s.hub.paths))
	}
}

func TestExpireNotifiesWatchers(t *testing.T) {
	s := New()
	s.Set("/k", false, "v", ttlAt(time.Second), t0)
	w := mustWatch(t, s, "/", true, false, 0)
	s.DeleteExpiredKeys(at(time.Second))
	if e := recv(t, w); e.Action != Expire || e.Node.Key != "/k" {
		t.Fatalf("got %s", mustJSON(t, e))
	}
}
