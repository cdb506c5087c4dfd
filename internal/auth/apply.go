package auth

import (
	"slices"
)

// Op selects what a Command does. The values are part of the log's format.
type Op uint8

const (
	OpEnable             Op = 1 // turn checks on; needs the root user; creates the guest role
	OpDisable            Op = 2
	OpCreateUser         Op = 3 // PUT with roles: create, never update
	OpCreateOrUpdateUser Op = 4 // PUT with neither roles nor grant/revoke
	OpUpdateUser         Op = 5 // grant/revoke roles, and the password if Hash is set
	OpDeleteUser         Op = 6
	OpCreateRole         Op = 7
	OpUpdateRole         Op = 8 // grant/revoke permissions
	OpDeleteRole         Op = 9
)

func (o Op) valid() bool { return o >= OpEnable && o <= OpDeleteRole }

// Command is one change of the auth state. Everything that is not
// deterministic (the password's bcrypt hash, the signing key) is made by the
// member that proposes it, so every replica applies the same bytes.
type Command struct {
	Op   Op
	Name string // user or role

	Hash  string   // a new password's bcrypt hash; empty: unchanged
	Roles []string // OpCreateUser: the roles it starts with

	Grant, Revoke []string // OpUpdateUser: roles

	Perms                   Permissions // OpCreateRole
	GrantPerms, RevokePerms Permissions // OpUpdateRole

	Key []byte // OpEnable: the token signing key, installed if none exists yet
}

// Result is what a successful command produced: the user or role as stored
// (for etcd's answer body) and whether it was created.
type Result struct {
	User    User
	Role    Role
	Created bool
}

// Apply returns the state after c, applied at log index index, or the
// refusal. s itself never changes.
func (s *State) Apply(c *Command, index uint64) (*State, Result, error) {
	switch c.Op {
	case OpEnable:
		return s.enable(c)
	case OpDisable:
		if !s.enabled {
			return nil, Result{}, refuse(ErrAlreadyDisabled, "already disabled")
		}
		n := s.clone()
		n.enabled = false
		return n, Result{}, nil
	}
	if !ValidName(c.Name) {
		return nil, Result{}, &Error{Err: ErrInvalidName, Message: "auth: invalid name"}
	}
	switch c.Op {
	case OpCreateUser:
		return s.createUser(c, index)
	case OpCreateOrUpdateUser:
		if _, ok := s.users[c.Name]; ok {
			return s.updateUser(c, index)
		}
		return s.createUser(c, index)
	case OpUpdateUser:
		return s.updateUser(c, index)
	case OpDeleteUser:
		return s.deleteUser(c)
	case OpCreateRole:
		return s.createRole(c)
	case OpUpdateRole:
		return s.updateRole(c)
	case OpDeleteRole:
		return s.deleteRole(c)
	}
	return nil, Result{}, &Error{Err: ErrBadCommand, Message: "auth: unknown command"}
}

func (s *State) enable(c *Command) (*State, Result, error) {
	if s.enabled {
		return nil, Result{}, refuse(ErrAlreadyEnabled, "already enabled")
	}
	if _, ok := s.users[RootUser]; !ok {
		return nil, Result{}, refuse(ErrNoRootUser, "No root user available, please create one")
	}
	n := s.clone()
	n.enabled = true
	if _, ok := n.roles[GuestRole]; !ok {
		n.roles[GuestRole] = Role{Name: GuestRole,
			Perms: Permissions{Read: slices.Clone(allKeys.Read), Write: slices.Clone(allKeys.Write)}}
	}
	if len(n.key) == 0 {
		n.key = slices.Clone(c.Key)
	}
	return n, Result{}, nil
}

func (s *State) createUser(c *Command, index uint64) (*State, Result, error) {
	if c.Hash == "" {
		return nil, Result{}, refuse(ErrEmptyPassword, "Cannot create user %s with an empty password", c.Name)
	}
	if _, ok := s.users[c.Name]; ok {
		return nil, Result{}, refuse(ErrUserExists, "User %s already exists.", c.Name)
	}
	u := User{Name: c.Name, Hash: c.Hash, Roles: slices.Clone(c.Roles), Revision: index}
	if u.Name == RootUser && !u.HasRole(RootRole) {
		u.Roles = append(u.Roles, RootRole)
	}
	n := s.clone()
	n.users[u.Name] = u
	return n, Result{User: u, Created: c.Op == OpCreateOrUpdateUser}, nil
}

func (s *State) updateUser(c *Command, index uint64) (*State, Result, error) {
	old, ok := s.users[c.Name]
	if !ok {
		return nil, Result{}, refuse(ErrUserNotFound, "User %s doesn't exist.", c.Name)
	}
	u := User{Name: old.Name, Hash: old.Hash, Revision: old.Revision}
	if c.Hash != "" {
		u.Hash, u.Revision = c.Hash, index
	}
	roles := slices.Clone(old.Roles)
	if roles == nil {
		roles = []string{}
	}
	for _, g := range c.Grant {
		if slices.Contains(roles, g) {
			return nil, Result{}, refuse(ErrDuplicateGrant, "Granting duplicate role %s for user %s", g, c.Name)
		}
		roles = append(roles, g)
	}
	for _, r := range c.Revoke {
		i := slices.Index(roles, r)
		if i < 0 {
			return nil, Result{}, refuse(ErrUngrantedRevoke, "Revoking ungranted role %s for user %s", r, c.Name)
		}
		roles = slices.Delete(roles, i, i+1)
	}
	slices.Sort(roles)
	u.Roles = roles
	if u.Hash == old.Hash && slices.Equal(sortedCopy(old.Roles), u.Roles) {
		return nil, Result{}, refuse(ErrNotUpdated, "User not updated. Use grant/revoke/password to update the user.")
	}
	n := s.clone()
	n.users[u.Name] = u
	return n, Result{User: u}, nil
}

func (s *State) deleteUser(c *Command) (*State, Result, error) {
	if s.enabled && c.Name == RootUser {
		return nil, Result{}, refuse(ErrRootUserNeeded, "Cannot delete root user while auth is enabled.")
	}
	if _, ok := s.users[c.Name]; !ok {
		return nil, Result{}, refuse(ErrUserNotFound, "User %s does not exist", c.Name)
	}
	n := s.clone()
	delete(n.users, c.Name)
	return n, Result{}, nil
}

func (s *State) createRole(c *Command) (*State, Result, error) {
	if c.Name == RootRole {
		return nil, Result{}, refuse(ErrRootRoleReadOnly, "Cannot modify role %s: is root role.", c.Name)
	}
	if _, ok := s.roles[c.Name]; ok {
		return nil, Result{}, refuse(ErrRoleExists, "Role %s already exists.", c.Name)
	}
	r := Role{Name: c.Name, Perms: Permissions{Read: slices.Clone(c.Perms.Read), Write: slices.Clone(c.Perms.Write)}}
	n := s.clone()
	n.roles[r.Name] = r
	return n, Result{Role: r, Created: true}, nil
}

func (s *State) updateRole(c *Command) (*State, Result, error) {
	if c.Name == RootRole {
		return nil, Result{}, refuse(ErrRootRoleReadOnly, "Cannot modify role %s: is root role.", c.Name)
	}
	old, ok := s.roles[c.Name]
	if !ok {
		return nil, Result{}, refuse(ErrRoleNotFound, "Role %s doesn't exist.", c.Name)
	}
	read, err := grant(old.Perms.Read, c.GrantPerms.Read, "read")
	if err != nil {
		return nil, Result{}, err
	}
	write, err := grant(old.Perms.Write, c.GrantPerms.Write, "write")
	if err != nil {
		return nil, Result{}, err
	}
	r := Role{Name: old.Name, Perms: Permissions{Read: revoke(read, c.RevokePerms.Read), Write: revoke(write, c.RevokePerms.Write)}}
	if slices.Equal(r.Perms.Read, sortedCopy(old.Perms.Read)) && slices.Equal(r.Perms.Write, sortedCopy(old.Perms.Write)) {
		return nil, Result{}, refuse(ErrNotUpdated, "Role not updated. Use grant/revoke to update the role.")
	}
	n := s.clone()
	n.roles[r.Name] = r
	return n, Result{Role: r}, nil
}

func (s *State) deleteRole(c *Command) (*State, Result, error) {
	if c.Name == RootRole {
		return nil, Result{}, refuse(ErrRootRoleReadOnly, "Cannot modify role %s: is root role.", c.Name)
	}
	if _, ok := s.roles[c.Name]; !ok {
		return nil, Result{}, refuse(ErrRoleNotFound, "Role %s doesn't exist.", c.Name)
	}
	n := s.clone()
	delete(n.roles, c.Name)
	return n, Result{}, nil
}

// grant adds add to have, refusing a duplicate as etcd does; the result is
// sorted and never nil.
func grant(have, add []string, kind string) ([]string, error) {
	out := make([]string, 0, len(have)+len(add))
	out = append(out, have...)
	for _, p := range add {
		if slices.Contains(out, p) {
			return nil, refuse(ErrDuplicateGrant, "Granting duplicate %s permission %s", kind, p)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// revoke removes drop from have; revoking what was never granted is ignored,
// as in etcd (and then shows as "not updated" when nothing else changed).
func revoke(have, drop []string) []string {
	out := slices.DeleteFunc(slices.Clone(have), func(p string) bool { return slices.Contains(drop, p) })
	if out == nil {
		out = []string{}
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	if c == nil {
		c = []string{}
	}
	slices.Sort(c)
	return c
}
