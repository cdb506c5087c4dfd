package auth

import (
	"slices"
	"strings"
)

// Identity is who a request comes from, as authentication found out. The
// zero Identity is an anonymous request.
type Identity struct {
	User string
	// External users (LDAP) are not in the state: their roles are their
	// directory groups, mapped to the Cairn roles of the same names.
	External bool
	Groups   []string
}

// Anonymous reports whether nobody was authenticated.
func (id Identity) Anonymous() bool { return id.User == "" }

// roles are the role names id holds now: a native user's from the state (so
// a grant or revoke takes effect at once), an external user's groups.
func (s *State) rolesOf(id Identity) ([]string, bool) {
	if id.External {
		return id.Groups, true
	}
	u, ok := s.User(id.User)
	return u.Roles, ok
}

// KeyAccess reports whether id may read (write false) or change (write true)
// key, a keyspace path such as "/app/db". An anonymous request gets the guest
// role's permissions while that role exists. recursive is the request's
// recursive flag: a recursive request needs a prefix permission ("/app/*")
// covering key, a plain one a permission matching key, as etcd 3.4 checks
// them. With auth off everything is allowed.
func (s *State) KeyAccess(id Identity, key string, write, recursive bool) bool {
	if !s.enabled {
		return true
	}
	if id.Anonymous() {
		// etcd checks the guest role without the recursive rule.
		g, ok := s.Role(GuestRole)
		return ok && g.Perms.allows(key, write, false)
	}
	roles, ok := s.rolesOf(id)
	if !ok {
		return false
	}
	for _, name := range roles {
		r, ok := s.Role(name)
		if !ok {
			continue
		}
		if r.Name == RootRole || r.Perms.allows(key, write, recursive) {
			return true
		}
	}
	return false
}

// IsRoot reports whether id holds the root role, which auth and member
// changes need. With auth off everyone is root.
func (s *State) IsRoot(id Identity) bool {
	if !s.enabled {
		return true
	}
	if id.Anonymous() {
		return false
	}
	roles, ok := s.rolesOf(id)
	return ok && slices.Contains(roles, RootRole)
}

func (p Permissions) allows(key string, write, recursive bool) bool {
	list := p.Read
	if write {
		list = p.Write
	}
	for _, pat := range list {
		if matches(pat, key, recursive) {
			return true
		}
	}
	return false
}

// matches applies one permission pattern: "/a/*" is every key starting with
// "/a/", "/a" only that key; a recursive request needs the prefix form.
func matches(pat, key string, recursive bool) bool {
	if pat == "" {
		return false
	}
	if prefix, ok := strings.CutSuffix(pat, "*"); ok {
		return strings.HasPrefix(key, prefix)
	}
	return !recursive && key == pat
}
