package auth

import "testing"

func accessState(t *testing.T) *State {
	s := Empty()
	for i, c := range []Command{
		{Op: OpCreateOrUpdateUser, Name: "root", Hash: fastHash(t, "r")},
		{Op: OpCreateRole, Name: "app", Perms: Permissions{Read: []string{"/app/*", "/shared"}, Write: []string{"/app/*"}}},
		{Op: OpCreateRole, Name: "exact", Perms: Permissions{Read: []string{"/app"}}},
		{Op: OpCreateUser, Name: "alice", Hash: fastHash(t, "a"), Roles: []string{"app"}},
		{Op: OpCreateUser, Name: "erin", Hash: fastHash(t, "e"), Roles: []string{"exact", "gone"}},
		{Op: OpCreateUser, Name: "nobody", Hash: fastHash(t, "n"), Roles: []string{}},
		{Op: OpEnable, Key: []byte("k")},
		{Op: OpUpdateRole, Name: GuestRole, RevokePerms: Permissions{Write: []string{"/*"}}},
	} {
		s, _ = mustApply(t, s, c, uint64(i+1))
	}
	return s
}

func TestKeyAccess(t *testing.T) {
	s := accessState(t)
	for _, tc := range []struct {
		user             string
		key              string
		write, recursive bool
		want             bool
	}{
		{"root", "/anything", true, true, true},
		{"alice", "/app/db", false, false, true},
		{"alice", "/app/db", true, false, true},
		{"alice", "/app/", true, true, true},
		{"alice", "/app", false, false, false}, // "/app/*" is keys under /app/, not /app itself
		{"alice", "/shared", false, false, true},
		{"alice", "/shared", false, true, false}, // a recursive read needs a prefix permission
		{"alice", "/shared", true, false, false},
		{"alice", "/other", false, false, false},
		{"erin", "/app", false, false, true}, // a missing role ("gone") is skipped, not fatal
		{"erin", "/app/x", false, false, false},
		{"nobody", "/app/x", false, false, false},
		{"ghost", "/app/x", false, false, false}, // unknown users get nothing
		{"", "/anything", false, false, true},    // guest reads /*
		{"", "/anything", true, false, false},    // guest write revoked
		{"", "/anything", false, true, true},     // guest is checked without the recursive rule, as etcd does
	} {
		if got := s.KeyAccess(Identity{User: tc.user}, tc.key, tc.write, tc.recursive); got != tc.want {
			t.Errorf("KeyAccess(%q, %q, write=%v, recursive=%v) = %v, want %v", tc.user, tc.key, tc.write, tc.recursive, got, tc.want)
		}
	}

	if !s.IsRoot(Identity{User: "root"}) || s.IsRoot(Identity{User: "alice"}) || s.IsRoot(Identity{}) || s.IsRoot(Identity{User: "ghost"}) {
		t.Fatal("IsRoot wrong")
	}

	// External users (LDAP) hold their directory groups as roles; a group
	// with no Cairn role of its name gives nothing.
	ext := Identity{User: "carol", External: true, Groups: []string{"app", "unknown"}}
	if !s.KeyAccess(ext, "/app/x", true, false) || s.KeyAccess(ext, "/other", false, false) || s.IsRoot(ext) {
		t.Fatal("external identity's groups not used as roles")
	}
	if !s.IsRoot(Identity{User: "admin", External: true, Groups: []string{"root"}}) {
		t.Fatal("external member of group root is not root")
	}

	// Without the guest role, anonymous requests get nothing.
	s, _ = mustApply(t, s, Command{Op: OpDeleteRole, Name: GuestRole}, 50)
	if s.KeyAccess(Identity{}, "/anything", false, false) {
		t.Fatal("anonymous read allowed without a guest role")
	}

	// With auth off, everything is allowed, to everyone.
	s, _ = mustApply(t, s, Command{Op: OpDisable}, 51)
	if !s.KeyAccess(Identity{}, "/x", true, true) || !s.KeyAccess(Identity{User: "ghost"}, "/x", true, false) || !s.IsRoot(Identity{}) {
		t.Fatal("auth off still refuses")
	}
}
