package auth

import (
	"errors"
	"testing"
)

// fastHash is a real bcrypt hash at the lowest cost, so state tests do not
// spend a second per user.
func fastHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := hashAtCost(pw, 4)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mustApply applies c and fails the test on a refusal.
func mustApply(t testing.TB, s *State, c Command, index uint64) (*State, Result) {
	t.Helper()
	n, res, err := s.Apply(&c, index)
	if err != nil {
		t.Fatalf("apply %+v: %v", c, err)
	}
	return n, res
}

// refused applies c, expects the refusal sentinel with etcd's message, and
// checks that s is left as it was.
func refused(t testing.TB, s *State, c Command, sentinel error, msg string) {
	t.Helper()
	n, _, err := s.Apply(&c, 99)
	if err == nil {
		t.Fatalf("apply %+v: accepted, want %v", c, sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("apply %+v: %v, want %v", c, err, sentinel)
	}
	if err.Error() != msg {
		t.Fatalf("apply %+v: message %q, want %q", c, err.Error(), msg)
	}
	if n != nil {
		t.Fatalf("apply %+v: refused but returned a state", c)
	}
}
