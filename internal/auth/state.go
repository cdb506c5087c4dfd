package auth

import (
	"slices"
	"strings"
)

// The names etcd's v2 auth gives special meaning.
const (
	RootUser  = "root"
	RootRole  = "root"
	GuestRole = "guest"
)

// Permissions are a role's key permissions: keys, where a trailing '*' makes
// a prefix. Nil and empty lists are kept apart because etcd's answers render
// them differently (null and []).
type Permissions struct {
	Read  []string
	Write []string
}

// Role is a named set of permissions.
type Role struct {
	Name  string
	Perms Permissions
}

// User is one account. Hash is a bcrypt hash; Revision is the log index at
// which the user was created or last changed its password, so that cached
// credentials and tokens issued before a password change stop working.
type User struct {
	Name     string
	Hash     string
	Roles    []string
	Revision uint64
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// allKeys is the pattern of the built-in root role and of the guest role
// created when auth is first enabled.
var allKeys = Permissions{Read: []string{"/*"}, Write: []string{"/*"}}

var rootRole = Role{Name: RootRole, Perms: allKeys}

// State is the replicated auth state. It is immutable: Apply returns a new
// one, so readers hold a *State without locks.
type State struct {
	enabled bool
	users   map[string]User
	roles   map[string]Role
	key     []byte
}

// Empty is the state of a new cluster: auth off, no users, no roles.
func Empty() *State {
	return &State{users: map[string]User{}, roles: map[string]Role{}}
}

// Enabled reports whether requests are checked.
func (s *State) Enabled() bool { return s.enabled }

// SigningKey is the key that signs login tokens; nil until auth was first
// enabled.
func (s *State) SigningKey() []byte { return s.key }

// User returns the named user. The root user always holds the root role, as
// in etcd.
func (s *State) User(name string) (User, bool) {
	u, ok := s.users[name]
	if !ok {
		return User{}, false
	}
	if name == RootUser && !u.HasRole(RootRole) {
		u.Roles = append(slices.Clip(u.Roles), RootRole)
	}
	return u, true
}

// Role returns the named role; the root role is built in.
func (s *State) Role(name string) (Role, bool) {
	if name == RootRole {
		return rootRole, true
	}
	r, ok := s.roles[name]
	return r, ok
}

// UserNames lists the users, sorted.
func (s *State) UserNames() []string {
	names := make([]string, 0, len(s.users))
	for n := range s.users {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RoleNames lists the roles, the built-in root role included, sorted.
func (s *State) RoleNames() []string {
	names := make([]string, 0, len(s.roles)+1)
	names = append(names, RootRole)
	for n := range s.roles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// clone copies the maps (not the records, which are never mutated in place).
func (s *State) clone() *State {
	c := &State{enabled: s.enabled, key: s.key,
		users: make(map[string]User, len(s.users)+1), roles: make(map[string]Role, len(s.roles)+1)}
	for k, v := range s.users {
		c.users[k] = v
	}
	for k, v := range s.roles {
		c.roles[k] = v
	}
	return c
}

// ValidName reports whether name can be a user or role name: it travels as
// one element of a URL path and in HTTP Basic credentials.
func ValidName(name string) bool {
	if name == "" || len(name) > 256 || strings.ContainsAny(name, "/:") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
