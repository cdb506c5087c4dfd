package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func tokenState(t *testing.T) *State {
	s := Empty()
	s, _ = mustApply(t, s, Command{Op: OpCreateOrUpdateUser, Name: "root", Hash: fastHash(t, "r")}, 1)
	s, _ = mustApply(t, s, Command{Op: OpCreateUser, Name: "alice", Hash: fastHash(t, "a"), Roles: []string{}}, 2)
	s, _ = mustApply(t, s, Command{Op: OpEnable, Key: []byte("0123456789abcdef0123456789abcdef")}, 3)
	return s
}

func TestTokenRoundTrip(t *testing.T) {
	s := tokenState(t)
	now := time.Unix(1_700_000_000, 0)
	tok, err := s.IssueToken(Identity{User: "alice"}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.VerifyToken(tok, now)
	if err != nil || got.User != "alice" || got.External {
		t.Fatalf("verify: %+v %v", got, err)
	}
	if _, err := s.VerifyToken(tok, now.Add(time.Minute)); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry: %v", err)
	}
}

func TestTokenRefusals(t *testing.T) {
	s := tokenState(t)
	u, _ := s.User("alice")
	now := time.Unix(1_700_000_000, 0)
	tok, _ := s.IssueToken(Identity{User: "alice"}, now.Add(time.Hour))
	payload, sig, _ := strings.Cut(tok, ".")

	forged := strings.Replace(tok, payload, b64.EncodeToString([]byte(`{"sub":"root","rev":1,"exp":1800000000}`)), 1)
	passwordChanged, _ := mustApply(t, s, Command{Op: OpUpdateUser, Name: "alice", Hash: fastHash(t, "b")}, 4)
	deleted, _ := mustApply(t, s, Command{Op: OpDeleteUser, Name: "alice"}, 4)
	otherKey := Empty()
	otherKey, _ = mustApply(t, otherKey, Command{Op: OpCreateOrUpdateUser, Name: "root", Hash: fastHash(t, "r")}, 1)
	otherKey, _ = mustApply(t, otherKey, Command{Op: OpCreateUser, Name: "alice", Hash: u.Hash, Roles: []string{}}, 2)
	otherKey, _ = mustApply(t, otherKey, Command{Op: OpEnable, Key: []byte("another key")}, 3)

	for name, tc := range map[string]struct {
		st  *State
		tok string
	}{
		"forged payload":        {s, forged},
		"truncated signature":   {s, payload + "." + sig[:10]},
		"no signature":          {s, payload},
		"garbage":               {s, "not a token"},
		"empty":                 {s, ""},
		"changed password":      {passwordChanged, tok},
		"deleted user":          {deleted, tok},
		"another cluster's key": {otherKey, tok},
	} {
		if _, err := tc.st.VerifyToken(tc.tok, now); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("%s: %v, want ErrTokenInvalid", name, err)
		}
	}
	for name, tc := range map[string]struct {
		st *State
		id Identity
	}{
		"no key":       {Empty(), Identity{User: "alice"}},
		"anonymous":    {s, Identity{}},
		"unknown user": {s, Identity{User: "ghost"}},
	} {
		if _, err := tc.st.IssueToken(tc.id, now); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("issue, %s: %v", name, err)
		}
	}
}

func TestExternalTokenCarriesGroups(t *testing.T) {
	s := tokenState(t)
	now := time.Unix(1_700_000_000, 0)
	id := Identity{User: "carol", External: true, Groups: []string{"app", "ops"}}
	tok, err := s.IssueToken(id, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.VerifyToken(tok, now)
	if err != nil || !got.External || got.User != "carol" || len(got.Groups) != 2 || got.Groups[1] != "ops" {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// The groups are signed: a token claiming more is refused.
	payload, sig, _ := strings.Cut(tok, ".")
	body, _ := b64.DecodeString(payload)
	more := strings.Replace(string(body), `"ops"`, `"root"`, 1)
	if _, err := s.VerifyToken(b64.EncodeToString([]byte(more))+"."+sig, now); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("forged groups: %v", err)
	}
}
