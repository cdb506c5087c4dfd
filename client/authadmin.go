package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cairn-io/cairn/api"
)

// AuthAdmin manages users, roles and the enabled flag through etcd's v2 auth API. Every call
// but Enabled needs the root role once auth is on.
type AuthAdmin struct {
	s *Session
}

// AuthError is a refusal of the v2 auth API: etcd's status and message ("auth: User x does
// not exist.", 404). Refusals for lack of credentials are ErrUnauthorized instead.
type AuthError struct {
	Status  int
	Message string
	Node    string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("cairn: node %s: %s (HTTP %d)", e.Node, e.Message, e.Status)
}

// UserInfo is a user with its roles.
type UserInfo struct {
	User  string
	Roles []RoleInfo
}

// RoleInfo is a role's key permissions: keys, or prefixes ending in '*'.
type RoleInfo struct {
	Role  string
	Read  []string
	Write []string
}

// Auth returns the auth administration API; its writes go to the leader.
func (c *Cluster) Auth() *AuthAdmin {
	b := DefaultBehavior
	b.Replica = ReplicaLeader
	return &AuthAdmin{s: c.CreateSession(b)}
}

func (a *AuthAdmin) call(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path, write: method != http.MethodGet, safe: method == http.MethodGet}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.json = b
	}
	rep, err := a.s.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status == http.StatusUnauthorized {
		return replyError(rep)
	}
	if rep.status >= 300 {
		var m api.AuthMessage
		if json.Unmarshal(rep.body, &m) != nil || m.Message == "" {
			return replyError(rep)
		}
		return &AuthError{Status: rep.status, Message: m.Message, Node: rep.node}
	}
	if out != nil {
		return json.Unmarshal(rep.body, out)
	}
	return nil
}

// Enabled reports whether auth is on (open to anyone, as in etcd).
func (a *AuthAdmin) Enabled(ctx context.Context) (bool, error) {
	var e api.AuthEnabled
	err := a.call(ctx, http.MethodGet, "/v2/auth/enable", nil, &e)
	return e.Enabled, err
}

// Enable turns auth on; the root user must exist.
func (a *AuthAdmin) Enable(ctx context.Context) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/enable", nil, nil)
}

// Disable turns auth off.
func (a *AuthAdmin) Disable(ctx context.Context) error {
	return a.call(ctx, http.MethodDelete, "/v2/auth/enable", nil, nil)
}

// Users lists the users with their roles.
func (a *AuthAdmin) Users(ctx context.Context) ([]UserInfo, error) {
	var us api.AuthUsers
	if err := a.call(ctx, http.MethodGet, "/v2/auth/users", nil, &us); err != nil {
		return nil, err
	}
	out := make([]UserInfo, 0, len(us.Users))
	for _, u := range us.Users {
		out = append(out, userInfo(u))
	}
	return out, nil
}

// User returns one user with its roles.
func (a *AuthAdmin) User(ctx context.Context, name string) (UserInfo, error) {
	var u api.AuthUserWithRoles
	err := a.call(ctx, http.MethodGet, "/v2/auth/users/"+url.PathEscape(name), nil, &u)
	return userInfo(u), err
}

// AddUser creates a user with a password and roles; with no roles an existing user's
// password is changed instead, as etcd does.
func (a *AuthAdmin) AddUser(ctx context.Context, name, password string, roles ...string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/users/"+url.PathEscape(name),
		api.AuthUser{User: name, Password: password, Roles: roles}, nil)
}

// ChangePassword sets a user's password; tokens issued before stop working.
func (a *AuthAdmin) ChangePassword(ctx context.Context, name, password string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/users/"+url.PathEscape(name),
		api.AuthUser{User: name, Password: password}, nil)
}

// RemoveUser deletes a user.
func (a *AuthAdmin) RemoveUser(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, "/v2/auth/users/"+url.PathEscape(name), nil, nil)
}

// GrantUser adds roles to a user; RevokeUser takes them away.
func (a *AuthAdmin) GrantUser(ctx context.Context, name string, roles ...string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/users/"+url.PathEscape(name), api.AuthUser{User: name, Grant: roles}, nil)
}

// RevokeUser takes roles away from a user.
func (a *AuthAdmin) RevokeUser(ctx context.Context, name string, roles ...string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/users/"+url.PathEscape(name), api.AuthUser{User: name, Revoke: roles}, nil)
}

// Roles lists the roles, the built-in root role included.
func (a *AuthAdmin) Roles(ctx context.Context) ([]RoleInfo, error) {
	var rs api.AuthRoles
	if err := a.call(ctx, http.MethodGet, "/v2/auth/roles", nil, &rs); err != nil {
		return nil, err
	}
	out := make([]RoleInfo, 0, len(rs.Roles))
	for _, r := range rs.Roles {
		out = append(out, roleInfo(r))
	}
	return out, nil
}

// Role returns one role.
func (a *AuthAdmin) Role(ctx context.Context, name string) (RoleInfo, error) {
	var r api.AuthRole
	err := a.call(ctx, http.MethodGet, "/v2/auth/roles/"+url.PathEscape(name), nil, &r)
	return roleInfo(r), err
}

// AddRole creates a role without permissions.
func (a *AuthAdmin) AddRole(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/roles/"+url.PathEscape(name), api.AuthRole{Role: name}, nil)
}

// RemoveRole deletes a role.
func (a *AuthAdmin) RemoveRole(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, "/v2/auth/roles/"+url.PathEscape(name), nil, nil)
}

// GrantRole gives a role read and write access to keys (a trailing '*' makes a prefix).
func (a *AuthAdmin) GrantRole(ctx context.Context, name string, read, write []string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/roles/"+url.PathEscape(name),
		api.AuthRole{Role: name, Grant: &api.AuthPermissions{KV: api.AuthRW{Read: read, Write: write}}}, nil)
}

// RevokeRole takes read and write access away from a role.
func (a *AuthAdmin) RevokeRole(ctx context.Context, name string, read, write []string) error {
	return a.call(ctx, http.MethodPut, "/v2/auth/roles/"+url.PathEscape(name),
		api.AuthRole{Role: name, Revoke: &api.AuthPermissions{KV: api.AuthRW{Read: read, Write: write}}}, nil)
}

func userInfo(u api.AuthUserWithRoles) UserInfo {
	out := UserInfo{User: u.User}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, roleInfo(r))
	}
	return out
}

func roleInfo(r api.AuthRole) RoleInfo {
	return RoleInfo{Role: r.Role, Read: r.Permissions.KV.Read, Write: r.Permissions.KV.Write}
}
