package auth

import "strings"

// KeyAccess reports whether user may read (write false) or change (write
// true) key, a keyspace path such as "/app/db". An empty user is an
// anonymous request, which gets the guest role's permissions while that role
// exists. recursive is the request's recursive flag: a recursive request
// needs a prefix permission ("/app/*") covering key, a plain one a permission
// matching key, as etcd 3.4 checks them. With auth off everything is allowed.
func (s *State) KeyAccess(user, key string, write, recursive bool) bool {
	if !s.enabled {
		return true
	}
	if user == "" {
		// etcd checks the guest role without the recursive rule.
		g, ok := s.Role(GuestRole)
		return ok && g.Perms.allows(key, write, false)
	}
	u, ok := s.User(user)
	if !ok {
		return false
	}
	for _, name := range u.Roles {
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

// IsRoot reports whether user holds the root role, which auth and member
// changes need. With auth off everyone is root.
func (s *State) IsRoot(user string) bool {
	if !s.enabled {
		return true
	}
	u, ok := s.User(user)
	return ok && u.HasRole(RootRole)
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
