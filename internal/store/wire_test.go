package store

import (
	"testing"
	"time"
)

// TestWireSamples replays the sequence recorded from etcd 3.4 in
// reference/etcd-v2-wire-samples.txt and compares every body (and every
// error's cause and index) byte for byte.
func TestWireSamples(t *testing.T) {
	s := New()
	for i := 0; i < 12; i++ { // the samples start at index 13
		mustSet(t, s, "/pad", "x")
	}
	now := at(5 * time.Second)

	e, err := s.Set("/s/foo", false, "bar", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"set","node":{"key":"/s/foo","value":"bar","modifiedIndex":13,"createdIndex":13}}`)
	if !e.IsCreated() || e.EtcdIndex != 13 {
		t.Fatalf("IsCreated=%v EtcdIndex=%d", e.IsCreated(), e.EtcdIndex)
	}
	e, err = s.Set("/s/foo", false, "bar2", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"set","node":{"key":"/s/foo","value":"bar2","modifiedIndex":14,"createdIndex":14},"prevNode":{"key":"/s/foo","value":"bar","modifiedIndex":13,"createdIndex":13}}`)
	if e.IsCreated() {
		t.Fatal("replacing set reported as created")
	}
	e, err = s.Get("/s/foo", false, false, now)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/s/foo","value":"bar2","modifiedIndex":14,"createdIndex":14}}`)
	if e.EtcdIndex != 14 {
		t.Fatalf("get EtcdIndex %d", e.EtcdIndex)
	}
	_, err = s.Get("/s/missing", false, false, now)
	wantErr(t, err, ErrKeyNotFound, "/s/missing", 14)
	_, err = s.CompareAndSwap("/s/foo", "wrong", 0, "x", TTLOptions{}, now)
	wantErr(t, err, ErrTestFailed, "[wrong != bar2]", 14)
	_, err = s.CompareAndSwap("/s/foo", "", 1, "x", TTLOptions{}, now)
	wantErr(t, err, ErrTestFailed, "[1 != 14]", 14)
	e, err = s.CompareAndSwap("/s/foo", "bar2", 0, "bar3", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"compareAndSwap","node":{"key":"/s/foo","value":"bar3","modifiedIndex":15,"createdIndex":14},"prevNode":{"key":"/s/foo","value":"bar2","modifiedIndex":14,"createdIndex":14}}`)
	_, err = s.CompareAndSwap("/s/nokey", "a", 0, "x", TTLOptions{}, now)
	wantErr(t, err, ErrKeyNotFound, "/s/nokey", 15)
	_, err = s.Create("/s/foo", false, "x", false, TTLOptions{}, now)
	wantErr(t, err, ErrNodeExist, "/s/foo", 15)
	e, err = s.Create("/s/new1", false, "n", false, TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"create","node":{"key":"/s/new1","value":"n","modifiedIndex":16,"createdIndex":16}}`)
	e, err = s.Update("/s/new1", "n2", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"update","node":{"key":"/s/new1","value":"n2","modifiedIndex":17,"createdIndex":16},"prevNode":{"key":"/s/new1","value":"n","modifiedIndex":16,"createdIndex":16}}`)
	_, err = s.Update("/s/new2", "n2", TTLOptions{}, now)
	wantErr(t, err, ErrKeyNotFound, "/s/new2", 17)
	_, err = s.CompareAndDelete("/s/new1", "zzz", 0, now)
	wantErr(t, err, ErrTestFailed, "[zzz != n2]", 17)
	e, err = s.CompareAndDelete("/s/new1", "n2", 0, now)
	wantEvent(t, e, err, `{"action":"compareAndDelete","node":{"key":"/s/new1","modifiedIndex":18,"createdIndex":16},"prevNode":{"key":"/s/new1","value":"n2","modifiedIndex":17,"createdIndex":16}}`)
	e, err = s.Create("/s/queue", false, "job1", true, TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"create","node":{"key":"/s/queue/00000000000000000019","value":"job1","modifiedIndex":19,"createdIndex":19}}`)
	e, err = s.Create("/s/queue", false, "job2", true, TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"create","node":{"key":"/s/queue/00000000000000000020","value":"job2","modifiedIndex":20,"createdIndex":20}}`)
	e, err = s.Get("/s/queue", false, true, now)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/s/queue","dir":true,"nodes":[{"key":"/s/queue/00000000000000000019","value":"job1","modifiedIndex":19,"createdIndex":19},{"key":"/s/queue/00000000000000000020","value":"job2","modifiedIndex":20,"createdIndex":20}],"modifiedIndex":19,"createdIndex":19}}`)

	e, err = s.Set("/s/dir", true, "", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"set","node":{"key":"/s/dir","dir":true,"modifiedIndex":21,"createdIndex":21}}`)
	_, err = s.Set("/s/dir", true, "", TTLOptions{}, now)
	wantErr(t, err, ErrNotFile, "/s/dir", 21)
	mustSet(t, s, "/s/dir/a", "1")
	mustSet(t, s, "/s/dir/sub/b", "2")
	now = time.Date(2026, 11, 22, 2, 17, 5, 75903134, time.UTC)
	if _, err := s.Set("/s/dir/sub/c", false, "3", TTLOptions{ExpireTime: now.Add(300 * time.Second)}, now); err != nil {
		t.Fatal(err)
	}
	e, err = s.Get("/s/dir", false, true, now)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/s/dir","dir":true,"nodes":[{"key":"/s/dir/a","value":"1","modifiedIndex":22,"createdIndex":22},{"key":"/s/dir/sub","dir":true,"modifiedIndex":23,"createdIndex":23}],"modifiedIndex":21,"createdIndex":21}}`)
	e, err = s.Get("/s/dir", true, true, now)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/s/dir","dir":true,"nodes":[{"key":"/s/dir/a","value":"1","modifiedIndex":22,"createdIndex":22},{"key":"/s/dir/sub","dir":true,"nodes":[{"key":"/s/dir/sub/b","value":"2","modifiedIndex":23,"createdIndex":23},{"key":"/s/dir/sub/c","value":"3","expiration":"2026-11-22T02:22:05.075903134Z","ttl":300,"modifiedIndex":24,"createdIndex":24}],"modifiedIndex":23,"createdIndex":23}],"modifiedIndex":21,"createdIndex":21}}`)
	_, err = s.Set("/s/dir", false, "x", TTLOptions{}, now)
	wantErr(t, err, ErrNotFile, "/s/dir", 24)
	_, err = s.Set("/s/foo/child", false, "x", TTLOptions{}, now)
	wantErr(t, err, ErrNotDir, "/s/foo", 24)
	_, err = s.Delete("/s/dir", true, false, now)
	wantErr(t, err, ErrDirNotEmpty, "/s/dir", 24)
	_, err = s.Delete("/s/dir", false, false, now)
	wantErr(t, err, ErrNotFile, "/s/dir", 24)
	e, err = s.Delete("/s/dir/a", false, false, now)
	wantEvent(t, e, err, `{"action":"delete","node":{"key":"/s/dir/a","modifiedIndex":25,"createdIndex":22},"prevNode":{"key":"/s/dir/a","value":"1","modifiedIndex":22,"createdIndex":22}}`)
	e, err = s.Delete("/s/dir", false, true, now)
	wantEvent(t, e, err, `{"action":"delete","node":{"key":"/s/dir","dir":true,"modifiedIndex":26,"createdIndex":21},"prevNode":{"key":"/s/dir","dir":true,"modifiedIndex":21,"createdIndex":21}}`)

	now = time.Date(2026, 11, 22, 2, 17, 5, 166997872, time.UTC)
	e, err = s.Set("/s/ttlkey", false, "t", TTLOptions{ExpireTime: now.Add(5 * time.Second)}, now)
	wantEvent(t, e, err, `{"action":"set","node":{"key":"/s/ttlkey","value":"t","expiration":"2026-11-22T02:17:10.166997872Z","ttl":5,"modifiedIndex":27,"createdIndex":27}}`)
	now = now.Add(1010 * time.Millisecond)
	e, err = s.Get("/s/ttlkey", false, false, now)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/s/ttlkey","value":"t","expiration":"2026-11-22T02:17:10.166997872Z","ttl":4,"modifiedIndex":27,"createdIndex":27}}`)
	now = time.Date(2026, 11, 22, 2, 17, 6, 197963655, time.UTC)
	e, err = s.Update("/s/ttlkey", "", TTLOptions{ExpireTime: now.Add(10 * time.Second), Refresh: true}, now)
	wantEvent(t, e, err, `{"action":"update","node":{"key":"/s/ttlkey","value":"t","expiration":"2026-11-22T02:17:16.197963655Z","ttl":10,"modifiedIndex":28,"createdIndex":27},"prevNode":{"key":"/s/ttlkey","value":"t","expiration":"2026-11-22T02:17:10.166997872Z","ttl":4,"modifiedIndex":27,"createdIndex":27}}`)
	if !e.Refresh {
		t.Fatal("refresh event not marked")
	}
	now = now.Add(100 * time.Millisecond)
	e, err = s.Update("/s/ttlkey", "t2", TTLOptions{}, now)
	wantEvent(t, e, err, `{"action":"update","node":{"key":"/s/ttlkey","value":"t2","modifiedIndex":29,"createdIndex":27},"prevNode":{"key":"/s/ttlkey","value":"t","expiration":"2026-11-22T02:17:16.197963655Z","ttl":10,"modifiedIndex":28,"createdIndex":27}}`)

	w, err := s.Watch("/s/w", false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := s.Watch("/s/wd", true, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w.StartIndex() != 29 {
		t.Fatalf("StartIndex %d", w.StartIndex())
	}
	mustSet(t, s, "/s/w", "watched")
	if got := mustJSON(t, recv(t, w)); got != `{"action":"set","node":{"key":"/s/w","value":"watched","modifiedIndex":30,"createdIndex":30}}` {
		t.Fatal(got)
	}
	mustSet(t, s, "/s/wd/x/y", "deep")
	if got := mustJSON(t, recv(t, wd)); got != `{"action":"set","node":{"key":"/s/wd/x/y","value":"deep","modifiedIndex":31,"createdIndex":31}}` {
		t.Fatal(got)
	}
	w, err = s.Watch("/s/w", false, false, 30)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, recv(t, w)); got != `{"action":"set","node":{"key":"/s/w","value":"watched","modifiedIndex":30,"createdIndex":30}}` {
		t.Fatal(got)
	}

	set := time.Date(2026, 11, 22, 2, 17, 8, 457900845, time.UTC)
	if _, err := s.Set("/s/exp", false, "e", TTLOptions{ExpireTime: set.Add(time.Second)}, set); err != nil {
		t.Fatal(err)
	}
	w, err = s.Watch("/s/exp", false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	evs := s.DeleteExpiredKeys(set.Add(1100 * time.Millisecond))
	want := `{"action":"expire","node":{"key":"/s/exp","modifiedIndex":33,"createdIndex":32},"prevNode":{"key":"/s/exp","value":"e","expiration":"2026-11-22T02:17:09.457900845Z","modifiedIndex":32,"createdIndex":32}}`
	if len(evs) != 1 || mustJSON(t, evs[0]) != want {
		t.Fatalf("expired %s", mustJSON(t, evs))
	}
	if got := mustJSON(t, recv(t, w)); got != want {
		t.Fatal(got)
	}

	for s.Index() < 1043 {
		mustSet(t, s, "/pad", "x")
	}
	_, err = s.Watch("/s/w", false, false, 1)
	wantErr(t, err, ErrEventIndexCleared, "the requested history has been cleared [44/1]", 1043)
}

func TestRootRendersWithoutKeyOrIndexes(t *testing.T) {
	s := New()
	mustSet(t, s, "/foo", "bar")
	if _, err := s.Set("/d1", true, "", TTLOptions{}, t0); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "/_hidden", "h")
	e, err := s.Get("/", false, true, t0)
	wantEvent(t, e, err, `{"action":"get","node":{"dir":true,"nodes":[{"key":"/d1","dir":true,"modifiedIndex":2,"createdIndex":2},{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}]}}`)
	// An empty root has no "nodes" at all.
	e, err = New().Get("/", true, false, t0)
	wantEvent(t, e, err, `{"action":"get","node":{"dir":true}}`)
}

func TestStatsJSON(t *testing.T) {
	s := New()
	mustSet(t, s, "/a", "1")
	s.Set("/a/b", false, "x", TTLOptions{}, t0)
	s.Get("/a", false, false, t0)
	s.Get("/nope", false, false, t0)
	s.Create("/a", false, "x", false, TTLOptions{}, t0)
	s.Create("/c", false, "x", false, TTLOptions{ExpireTime: at(time.Second)}, t0)
	s.Update("/a", "2", TTLOptions{}, t0)
	s.Update("/zz", "2", TTLOptions{}, t0)
	s.CompareAndSwap("/a", "2", 0, "3", TTLOptions{}, t0)
	s.CompareAndSwap("/a", "2", 0, "3", TTLOptions{}, t0)
	s.CompareAndDelete("/a", "3", 0, t0)
	s.CompareAndDelete("/a", "3", 0, t0)
	s.Delete("/zz", false, false, t0)
	mustSet(t, s, "/d", "1")
	s.Delete("/d", false, false, t0)
	s.DeleteExpiredKeys(at(time.Second))
	w, _ := s.Watch("/x", false, false, 0)
	defer w.Remove()
	want := `{"getsSuccess":1,"getsFail":1,"setsSuccess":2,"setsFail":1,"deleteSuccess":1,"deleteFail":1,"updateSuccess":1,"updateFail":1,"createSuccess":1,"createFail":1,"compareAndSwapSuccess":1,"compareAndSwapFail":1,"compareAndDeleteSuccess":1,"compareAndDeleteFail":1,"expireCount":1,"watchers":1}`
	if got := mustJSON(t, s.Stats()); got != want {
		t.Fatalf("stats\n got %s\nwant %s", got, want)
	}
}
