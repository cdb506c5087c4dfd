package auth

import (
	"slices"
	"testing"
)

// The sequence below is the one run against etcd 3.4.23 with --enable-v2 to
// learn its answers; the messages and the created flags are etcd's.
func TestUsersAsEtcd(t *testing.T) {
	s := Empty()
	refused(t, s, Command{Op: OpCreateOrUpdateUser, Name: "alice"}, ErrEmptyPassword,
		"auth: Cannot create user alice with an empty password")

	s, res := mustApply(t, s, Command{Op: OpCreateOrUpdateUser, Name: "alice", Hash: fastHash(t, "pw")}, 5)
	if !res.Created || res.User.Roles != nil || res.User.Revision != 5 {
		t.Fatalf("create: %+v, want created with null roles at revision 5", res)
	}
	// The same PUT again updates the password (a new hash), roles become [].
	s, res = mustApply(t, s, Command{Op: OpCreateOrUpdateUser, Name: "alice", Hash: fastHash(t, "pw2")}, 6)
	if res.Created || res.User.Roles == nil || len(res.User.Roles) != 0 || res.User.Revision != 6 {
		t.Fatalf("update: %+v, want not created, [] roles, revision 6", res)
	}
	// No password and nothing else: nothing to update.
	refused(t, s, Command{Op: OpCreateOrUpdateUser, Name: "alice"}, ErrNotUpdated,
		"auth: User not updated. Use grant/revoke/password to update the user.")

	// With roles it is a plain create, answered 200 as etcd does, even for a
	// role that does not exist yet.
	s, res = mustApply(t, s, Command{Op: OpCreateUser, Name: "bob", Hash: fastHash(t, "pw"), Roles: []string{"app"}}, 7)
	if res.Created || !slices.Equal(res.User.Roles, []string{"app"}) {
		t.Fatalf("create with roles: %+v", res)
	}
	refused(t, s, Command{Op: OpCreateUser, Name: "bob", Hash: fastHash(t, "pw"), Roles: []string{"app"}},
		ErrUserExists, "auth: User bob already exists.")

	s, res = mustApply(t, s, Command{Op: OpUpdateUser, Name: "alice", Grant: []string{"app"}}, 8)
	if !slices.Equal(res.User.Roles, []string{"app"}) || res.User.Revision != 6 {
		t.Fatalf("grant: %+v (a grant must not move the password revision)", res)
	}
	refused(t, s, Command{Op: OpUpdateUser, Name: "alice", Grant: []string{"app"}}, ErrDuplicateGrant,
		"auth: Granting duplicate role app for user alice")
	refused(t, s, Command{Op: OpUpdateUser, Name: "alice", Revoke: []string{"zzz"}}, ErrUngrantedRevoke,
		"auth: Revoking ungranted role zzz for user alice")
	refused(t, s, Command{Op: OpUpdateUser, Name: "nobody", Grant: []string{"app"}}, ErrUserNotFound,
		"auth: User nobody doesn't exist.")

	s, res = mustApply(t, s, Command{Op: OpUpdateUser, Name: "alice", Revoke: []string{"app"}}, 9)
	if res.User.Roles == nil || len(res.User.Roles) != 0 {
		t.Fatalf("revoke: roles %#v, want []", res.User.Roles)
	}

	refused(t, s, Command{Op: OpDeleteUser, Name: "none"}, ErrUserNotFound, "auth: User none does not exist")
	s, _ = mustApply(t, s, Command{Op: OpDeleteUser, Name: "bob"}, 10)
	if _, ok := s.User("bob"); ok {
		t.Fatal("bob still there after delete")
	}
	if got := s.UserNames(); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("users %v", got)
	}
}

func TestRolesAsEtcd(t *testing.T) {
	s := Empty()
	s, res := mustApply(t, s, Command{Op: OpCreateRole, Name: "app"}, 2)
	if !res.Created || res.Role.Perms.Read != nil || res.Role.Perms.Write != nil {
		t.Fatalf("create: %+v, want null lists", res)
	}
	refused(t, s, Command{Op: OpCreateRole, Name: "app"}, ErrRoleExists, "auth: Role app already exists.")
	for _, op := range []Op{OpCreateRole, OpUpdateRole, OpDeleteRole} {
		refused(t, s, Command{Op: op, Name: "root"}, ErrRootRoleReadOnly, "auth: Cannot modify role root: is root role.")
	}

	s, res = mustApply(t, s, Command{Op: OpUpdateRole, Name: "app",
		GrantPerms: Permissions{Read: []string{"/app/*"}, Write: []string{"/app/*"}}}, 3)
	if !slices.Equal(res.Role.Perms.Read, []string{"/app/*"}) || !slices.Equal(res.Role.Perms.Write, []string{"/app/*"}) {
		t.Fatalf("grant: %+v", res.Role)
	}
	refused(t, s, Command{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Read: []string{"/app/*"}}},
		ErrDuplicateGrant, "auth: Granting duplicate read permission /app/*")
	refused(t, s, Command{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Write: []string{"/app/*"}}},
		ErrDuplicateGrant, "auth: Granting duplicate write permission /app/*")
	// Revoking what was never granted changes nothing, which etcd reports as
	// "not updated".
	refused(t, s, Command{Op: OpUpdateRole, Name: "app", RevokePerms: Permissions{Read: []string{"/nope"}}},
		ErrNotUpdated, "auth: Role not updated. Use grant/revoke to update the role.")
	refused(t, s, Command{Op: OpUpdateRole, Name: "none", GrantPerms: Permissions{Read: []string{"/x"}}},
		ErrRoleNotFound, "auth: Role none doesn't exist.")

	// Given permissions are kept as given, empty lists included.
	s, res = mustApply(t, s, Command{Op: OpCreateRole, Name: "app2", Perms: Permissions{Read: []string{"/a"}, Write: []string{}}}, 4)
	if res.Role.Perms.Write == nil || len(res.Role.Perms.Write) != 0 {
		t.Fatalf("create with perms: %#v", res.Role.Perms)
	}
	if got := s.RoleNames(); !slices.Equal(got, []string{"app", "app2", "root"}) {
		t.Fatalf("roles %v, want the built-in root among them", got)
	}
	root, ok := s.Role("root")
	if !ok || !slices.Equal(root.Perms.Read, []string{"/*"}) {
		t.Fatalf("root role %+v", root)
	}
	refused(t, s, Command{Op: OpDeleteRole, Name: "none"}, ErrRoleNotFound, "auth: Role none doesn't exist.")
	s, _ = mustApply(t, s, Command{Op: OpDeleteRole, Name: "app2"}, 5)
	if _, ok := s.Role("app2"); ok {
		t.Fatal("app2 still there")
	}
}

func TestEnableDisable(t *testing.T) {
	s := Empty()
	refused(t, s, Command{Op: OpEnable, Key: []byte("k")}, ErrNoRootUser, "auth: No root user available, please create one")
	refused(t, s, Command{Op: OpDisable}, ErrAlreadyDisabled, "auth: already disabled")

	s, res := mustApply(t, s, Command{Op: OpCreateOrUpdateUser, Name: "root", Hash: fastHash(t, "r")}, 2)
	if !slices.Equal(res.User.Roles, []string{"root"}) {
		t.Fatalf("root user roles %v, want [root] attached", res.User.Roles)
	}
	s, _ = mustApply(t, s, Command{Op: OpEnable, Key: []byte("key-1")}, 3)
	if !s.Enabled() || string(s.SigningKey()) != "key-1" {
		t.Fatalf("enabled %v key %q", s.Enabled(), s.SigningKey())
	}
	g, ok := s.Role(GuestRole)
	if !ok || !slices.Equal(g.Perms.Read, []string{"/*"}) || !slices.Equal(g.Perms.Write, []string{"/*"}) {
		t.Fatalf("guest role %+v, want rw /*", g)
	}
	refused(t, s, Command{Op: OpEnable, Key: []byte("k")}, ErrAlreadyEnabled, "auth: already enabled")
	refused(t, s, Command{Op: OpDeleteUser, Name: "root"}, ErrRootUserNeeded, "auth: Cannot delete root user while auth is enabled.")

	// The guest role, once changed, is not recreated by a later enable; the
	// signing key is kept so tokens survive a disable/enable.
	s, _ = mustApply(t, s, Command{Op: OpUpdateRole, Name: GuestRole, RevokePerms: Permissions{Write: []string{"/*"}}}, 4)
	s, _ = mustApply(t, s, Command{Op: OpDisable}, 5)
	s, _ = mustApply(t, s, Command{Op: OpEnable, Key: []byte("key-2")}, 6)
	g, _ = s.Role(GuestRole)
	if len(g.Perms.Write) != 0 || string(s.SigningKey()) != "key-1" {
		t.Fatalf("after re-enable guest %+v key %q", g, s.SigningKey())
	}
}

func TestApplyLeavesOldStateAlone(t *testing.T) {
	s, _ := mustApply(t, Empty(), Command{Op: OpCreateRole, Name: "app"}, 1)
	n, _ := mustApply(t, s, Command{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Read: []string{"/a"}}}, 2)
	old, _ := s.Role("app")
	if old.Perms.Read != nil {
		t.Fatalf("old state changed: %+v", old)
	}
	if r, _ := n.Role("app"); !slices.Equal(r.Perms.Read, []string{"/a"}) {
		t.Fatalf("new state %+v", r)
	}
}

func TestInvalidNamesRefused(t *testing.T) {
	for _, name := range []string{"", "a/b", "a:b", "bad\x00", "tab\there", string(make([]byte, 300))} {
		_, _, err := Empty().Apply(&Command{Op: OpCreateRole, Name: name}, 1)
		if err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}
