package auth

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func verifierState(t *testing.T) *State {
	s, _ := mustApply(t, Empty(), Command{Op: OpCreateUser, Name: "alice", Hash: fastHash(t, "secret"), Roles: []string{"app"}}, 1)
	return s
}

func TestVerifierCachesOnlyWhatPassed(t *testing.T) {
	s := verifierState(t)
	v := NewVerifier(VerifierConfig{})
	now := time.Unix(1000, 0)
	if _, err := v.Check(s, "alice", "secret", "a", now); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		u, err := v.Check(s, "alice", "secret", "a", now)
		if err != nil || u.Name != "alice" {
			t.Fatalf("repeat %d: %v %v", i, u, err)
		}
	}
	if hits, misses := v.Stats(); hits != 5 || misses != 1 {
		t.Fatalf("hits %d misses %d, want 5 and 1", hits, misses)
	}
	// A wrong password is never served from the cache.
	if _, err := v.Check(s, "alice", "Secret", "a", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := v.Check(s, "nobody", "secret", "a", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	// The same password under another user name is another entry.
	s2, _ := mustApply(t, s, Command{Op: OpCreateUser, Name: "bob", Hash: fastHash(t, "other"), Roles: []string{}}, 2)
	if _, err := v.Check(s2, "bob", "secret", "a", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("bob with alice's password: %v", err)
	}
}

func TestVerifierForgetsChangedPasswordAndDeletedUser(t *testing.T) {
	s := verifierState(t)
	v := NewVerifier(VerifierConfig{})
	now := time.Unix(1000, 0)
	if _, err := v.Check(s, "alice", "secret", "a", now); err != nil {
		t.Fatal(err)
	}
	changed, _ := mustApply(t, s, Command{Op: OpUpdateUser, Name: "alice", Hash: fastHash(t, "new")}, 2)
	if _, err := v.Check(changed, "alice", "secret", "a", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := v.Check(changed, "alice", "new", "a", now); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// A role change keeps the cached credentials valid: roles are read from
	// the state at every check.
	regranted, _ := mustApply(t, changed, Command{Op: OpUpdateUser, Name: "alice", Grant: []string{"ops"}}, 3)
	u, err := v.Check(regranted, "alice", "new", "a", now)
	if err != nil || !u.HasRole("ops") {
		t.Fatalf("after grant: %+v %v", u, err)
	}
	deleted, _ := mustApply(t, regranted, Command{Op: OpDeleteUser, Name: "alice"}, 4)
	if _, err := v.Check(deleted, "alice", "new", "a", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted user: %v", err)
	}
	// Re-created with the same password: a new revision, checked afresh.
	again, _ := mustApply(t, deleted, Command{Op: OpCreateUser, Name: "alice", Hash: fastHash(t, "new"), Roles: []string{}}, 5)
	_, missesBefore := v.Stats()
	if _, err := v.Check(again, "alice", "new", "a", now); err != nil {
		t.Fatal(err)
	}
	if _, misses := v.Stats(); misses != missesBefore+1 {
		t.Fatal("re-created user served from the cache of the deleted one")
	}
}

func TestVerifierLimitsFailuresPerSource(t *testing.T) {
	s := verifierState(t)
	v := NewVerifier(VerifierConfig{FailureBurst: 3, FailureRate: 1})
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if _, err := v.Check(s, "alice", "guess", "10.0.0.1", now); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Out of tries: refused without a hash, even with the right password.
	if _, err := v.Check(s, "alice", "secret", "10.0.0.1", now); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("after burst: %v", err)
	}
	// Another source is not affected.
	if _, err := v.Check(s, "alice", "secret", "10.0.0.2", now); err != nil {
		t.Fatalf("other source: %v", err)
	}
	// A second later one more try is allowed.
	if _, err := v.Check(s, "alice", "secret", "10.0.0.1", now.Add(1100*time.Millisecond)); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	// Cached good credentials are served even while the source is limited:
	// the limit is on slow checks.
	for i := 0; i < 3; i++ {
		v.Check(s, "alice", "guess", "10.0.0.3", now)
	}
	if _, err := v.Check(s, "alice", "secret", "10.0.0.3", now); err != nil {
		t.Fatalf("cached credentials from a limited source: %v", err)
	}
}

func TestVerifierCacheIsBounded(t *testing.T) {
	s := Empty()
	v := NewVerifier(VerifierConfig{CacheSize: 2})
	now := time.Unix(1000, 0)
	h := fastHash(t, "pw")
	for i, name := range []string{"a", "b", "c"} {
		s, _ = mustApply(t, s, Command{Op: OpCreateUser, Name: name, Hash: h, Roles: []string{}}, uint64(i+1))
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := v.Check(s, name, "pw", "x", now); err != nil {
			t.Fatal(err)
		}
	}
	if v.lru.Len() != 2 || len(v.byKey) != 2 {
		t.Fatalf("cache holds %d/%d entries, want 2", v.lru.Len(), len(v.byKey))
	}
	_, m0 := v.Stats()
	v.Check(s, "a", "pw", "x", now) // evicted: a slow check again
	if _, m1 := v.Stats(); m1 != m0+1 {
		t.Fatal("evicted entry still served")
	}
}

func TestVerifierSourcesAreBounded(t *testing.T) {
	s := verifierState(t)
	v := NewVerifier(VerifierConfig{Sources: 4})
	now := time.Unix(1000, 0)
	for i := 0; i < 20; i++ {
		v.Check(s, "alice", "guess", string(rune('a'+i)), now)
	}
	if len(v.fails) > 4 {
		t.Fatalf("%d sources kept, want at most 4", len(v.fails))
	}
}

func TestHashPasswordRefusesOverlong(t *testing.T) {
	long := string(make([]byte, 73))
	if _, err := HashPassword(long, 4); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatalf("73-byte password: %v", err)
	}
	h, err := HashPassword("ok", 4)
	if err != nil || !checkPassword(h, "ok") || checkPassword(h, "no") {
		t.Fatalf("hash %q %v", h, err)
	}
}

// Eviction spares an entry used since it was last passed over (CLOCK's second chance), so
// credentials in steady use stay cached while one-off ones go.
func TestVerifierKeepsCredentialsInUse(t *testing.T) {
	s := Empty()
	v := NewVerifier(VerifierConfig{CacheSize: 2})
	now := time.Unix(1000, 0)
	h := fastHash(t, "pw")
	for i, name := range []string{"a", "b", "c"} {
		s, _ = mustApply(t, s, Command{Op: OpCreateUser, Name: name, Hash: h, Roles: []string{}}, uint64(i+1))
	}
	v.Check(s, "a", "pw", "x", now)
	v.Check(s, "b", "pw", "x", now)
	v.Check(s, "a", "pw", "x", now) // a is in use
	v.Check(s, "c", "pw", "x", now) // one of a, b must go: b
	_, m0 := v.Stats()
	v.Check(s, "a", "pw", "x", now)
	if _, m1 := v.Stats(); m1 != m0 {
		t.Fatal("the entry in use was evicted")
	}
	v.Check(s, "b", "pw", "x", now)
	if _, m2 := v.Stats(); m2 != m0+1 {
		t.Fatal("the unused entry was kept")
	}
}

// Many connections presenting the same new credentials at once cost one bcrypt check.
func TestVerifierChecksConcurrentRepeatsOnce(t *testing.T) {
	s, _ := mustApply(t, Empty(), Command{Op: OpCreateUser, Name: "alice", Hash: fastHash(t, "secret"), Roles: []string{}}, 1)
	v := NewVerifier(VerifierConfig{})
	var calls atomic.Int64
	// A slow hash, so that the concurrent checks overlap.
	v.check = func(hash, password string) bool {
		calls.Add(1)
		time.Sleep(200 * time.Millisecond)
		return checkPassword(hash, password)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Check(s, "alice", "secret", "x", time.Unix(1000, 0)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Without sharing there would be 16; goroutines that start after the first check ended
	// may make a second, on a loaded machine.
	if n := calls.Load(); n > 2 {
		t.Fatalf("%d bcrypt checks for 16 concurrent identical logins, want 1", n)
	}
}
