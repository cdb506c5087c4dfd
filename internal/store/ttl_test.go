package store

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"
	"unsafe"
)

func keysOf(evs []*Event) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.Node.Key)
	}
	return ks
}

func TestExpiryOrderAndIndexes(t *testing.T) {
	s := New()
	// Set in an order unrelated to expiry; /b and /a tie and go by path.
	s.Set("/c", false, "c", ttlAt(3*time.Second), t0)
	s.Set("/b", false, "b", ttlAt(2*time.Second), t0)
	s.Set("/a", false, "a", ttlAt(2*time.Second), t0)
	s.Set("/z", false, "z", ttlAt(1*time.Second), t0)
	s.Set("/keep", false, "k", ttlAt(10*time.Second), t0)
	mustSet(t, s, "/perm", "p")

	next, ok := s.NextExpiration()
	if !ok || !next.Equal(at(time.Second)) {
		t.Fatalf("NextExpiration = %v %v", next, ok)
	}
	if evs := s.DeleteExpiredKeys(at(999 * time.Millisecond)); len(evs) != 0 {
		t.Fatalf("expired early: %v", keysOf(evs))
	}
	evs := s.DeleteExpiredKeys(at(3 * time.Second)) // the cutoff itself is included
	if got := keysOf(evs); !slices.Equal(got, []string{"/z", "/a", "/b", "/c"}) {
		t.Fatalf("expiry order %v", got)
	}
	for i, e := range evs {
		if e.Action != Expire || e.Index() != uint64(7+i) || e.EtcdIndex != e.Index() {
			t.Fatalf("event %d: %s etcdIndex %d", i, mustJSON(t, e), e.EtcdIndex)
		}
	}
	if s.Index() != 10 || s.Stats().ExpireCount != 4 {
		t.Fatalf("index %d expireCount %d", s.Index(), s.Stats().ExpireCount)
	}
	if next, ok := s.NextExpiration(); !ok || !next.Equal(at(10*time.Second)) {
		t.Fatalf("NextExpiration = %v %v", next, ok)
	}
	if _, err := s.Get("/perm", false, false, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestExpiringDirTakesItsSubtree(t *testing.T) {
	s := New()
	s.Set("/d", true, "", ttlAt(time.Second), t0)
	s.Set("/d/k", false, "v", ttlAt(5*time.Second), t0)
	mustSet(t, s, "/d/sub/p", "p")
	w, _ := s.Watch("/d/sub/p", false, false, 0)
	evs := s.DeleteExpiredKeys(at(time.Second))
	want := `[{"action":"expire","node":{"key":"/d","dir":true,"modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/d","dir":true,"expiration":"2026-11-22T02:17:01Z","modifiedIndex":1,"createdIndex":1}}]`
	if got := mustJSON(t, evs); got != want {
		t.Fatalf("got %s", got)
	}
	if got := mustJSON(t, recv(t, w)); got != mustJSON(t, evs[0]) {
		t.Fatalf("watcher below the dir got %s", got)
	}
	// /d/k left the heap with its directory: nothing is pending any more.
	if _, ok := s.NextExpiration(); ok {
		t.Fatal("TTL of a removed child still pending")
	}
	if evs := s.DeleteExpiredKeys(at(time.Hour)); len(evs) != 0 {
		t.Fatalf("expired again: %v", keysOf(evs))
	}
}

func TestTTLChanges(t *testing.T) {
	tests := []struct {
		name   string
		op     func(s *Store) error
		next   time.Duration // 0: nothing pending
		render string        // /k as read at t0+1.5s
	}{
		{"update without ttl makes it permanent", func(s *Store) error {
			_, err := s.Update("/k", "v2", TTLOptions{}, t0)
			return err
		}, 0, `{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":1}`},
		{"set without ttl makes it permanent", func(s *Store) error {
			_, err := s.Set("/k", false, "v2", TTLOptions{}, t0)
			return err
		}, 0, `{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":2}`},
		{"cas without ttl makes it permanent", func(s *Store) error {
			_, err := s.CompareAndSwap("/k", "v", 0, "v2", TTLOptions{}, t0)
			return err
		}, 0, `{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":1}`},
		{"update moves the expiry later", func(s *Store) error {
			_, err := s.Update("/k", "v", ttlAt(9*time.Second), t0)
			return err
		}, 9 * time.Second, `{"key":"/k","value":"v","expiration":"2026-11-22T02:17:09Z","ttl":8,"modifiedIndex":2,"createdIndex":1}`},
		{"refresh moves the expiry earlier", func(s *Store) error {
			_, err := s.Update("/k", "", TTLOptions{ExpireTime: at(2 * time.Second), Refresh: true}, t0)
			return err
		}, 2 * time.Second, `{"key":"/k","value":"v","expiration":"2026-11-22T02:17:02Z","ttl":1,"modifiedIndex":2,"createdIndex":1}`},
		{"delete drops the ttl", func(s *Store) error {
			_, err := s.Delete("/k", false, false, t0)
			return err
		}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			s.Set("/k", false, "v", ttlAt(5*time.Second), t0)
			if err := tc.op(s); err != nil {
				t.Fatal(err)
			}
			next, ok := s.NextExpiration()
			if ok != (tc.next != 0) || (ok && !next.Equal(at(tc.next))) {
				t.Fatalf("NextExpiration = %v %v; want %v", next, ok, tc.next)
			}
			if tc.render != "" {
				e, err := s.Get("/k", false, false, at(1500*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				if got := mustJSON(t, e.Node); got != tc.render {
					t.Fatalf("got %s", got)
				}
			}
			s.DeleteExpiredKeys(at(time.Hour))
			_, err := s.Get("/k", false, false, t0)
			if (err == nil) != (tc.next == 0 && tc.render != "") {
				t.Fatalf("after expiry Get err = %v", err)
			}
		})
	}
}

func TestTTLRendering(t *testing.T) {
	s := New()
	s.Set("/k", false, "v", ttlAt(5*time.Second), t0)
	for _, tc := range []struct {
		now  time.Duration
		want int64
	}{
		{0, 5}, {time.Nanosecond, 5}, {999 * time.Millisecond, 5}, {time.Second, 4},
		{4*time.Second + 999999999, 1}, {5 * time.Second, 0}, {6 * time.Second, 0},
	} {
		e, err := s.Get("/k", false, false, at(tc.now))
		if err != nil {
			t.Fatal(err)
		}
		if e.Node.TTL != tc.want || e.Node.Expiration == nil || !e.Node.Expiration.Equal(at(5*time.Second)) {
			t.Errorf("at +%v: ttl %d expiration %v; want %d", tc.now, e.Node.TTL, e.Node.Expiration, tc.want)
		}
	}
}

// TestHeapAgainstSort drives the heap with random pushes, removals and
// expiry changes and checks that it always pops in (expire, path) order.
func TestHeapAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	s := New()
	live := map[string]int64{}
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("/k%d", rng.Intn(300))
		switch rng.Intn(4) {
		case 0, 1:
			exp := time.Duration(1+rng.Intn(50)) * time.Second
			if _, err := s.Set(k, false, "v", ttlAt(exp), t0); err != nil {
				t.Fatal(err)
			}
			live[k] = at(exp).UnixNano()
		case 2:
			if _, err := s.Delete(k, false, false, t0); err == nil {
				delete(live, k)
			}
		case 3:
			if _, err := s.Update(k, "v", TTLOptions{}, t0); err == nil {
				delete(live, k)
			}
		}
	}
	type kv struct {
		k string
		e int64
	}
	var want []kv
	for k, e := range live {
		want = append(want, kv{k, e})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].e != want[j].e {
			return want[i].e < want[j].e
		}
		return want[i].k < want[j].k
	})
	evs := s.DeleteExpiredKeys(at(time.Hour))
	if len(evs) != len(want) {
		t.Fatalf("expired %d keys; want %d", len(evs), len(want))
	}
	for i := range want {
		if evs[i].Node.Key != want[i].k {
			t.Fatalf("pop %d = %s; want %s", i, evs[i].Node.Key, want[i].k)
		}
	}
}

// The node must stay within the 64-byte size class: at millions of keys every
// byte of it is RSS.
func TestNodeFitsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(node{}); size > 64 {
		t.Fatalf("node is %d bytes; keep it within 64", size)
	}
}
