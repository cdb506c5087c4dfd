package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/auth"
)

const authPrefix = "/v2/auth"

// errInvalidJSON and friends are etcd's validation messages of the v2 auth API.
var (
	errInvalidJSON      = errors.New("Invalid JSON in request body.")
	errUserNameMismatch = errors.New("User JSON name does not match the name in the URL")
	errRoleNameMismatch = errors.New("Role JSON name does not match the name in the URL")
	errRolesAndGrant    = errors.New("User JSON contains both roles and grant/revoke")
	errPermsAndGrant    = errors.New("Role JSON contains both permissions and grant/revoke")
)

// serveAuth is etcd 3.4's v2 auth API: users, roles and the enabled flag. Every check
// follows etcd's order (method, then credentials, then the body), so clients see the
// same codes.
func (h *Handler) serveAuth(w http.ResponseWriter, r *http.Request) {
	sub := path.Clean(strings.TrimPrefix(r.URL.Path, authPrefix))
	pieces := strings.Split(sub, "/") // "", "users", NAME
	switch {
	case sub == "/enable":
		h.serveAuthEnable(w, r)
	case pieces[1] == "users" && len(pieces) == 2:
		h.serveUsers(w, r)
	case pieces[1] == "roles" && len(pieces) == 2:
		h.serveRoles(w, r)
	case (pieces[1] == "users" || pieces[1] == "roles") && len(pieces) == 3:
		if pieces[1] == "users" {
			h.serveUser(w, r, pieces[2])
		} else {
			h.serveRole(w, r, pieces[2])
		}
	case pieces[1] == "users" || pieces[1] == "roles":
		w.Header().Del("X-Etcd-Cluster-Id")
		writeMessage(w, http.StatusBadRequest, "Invalid path")
	default:
		w.Header().Del("X-Etcd-Cluster-Id")
		http.NotFound(w, r)
	}
}

func (h *Handler) serveAuthEnable(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPut, http.MethodDelete) || !h.writeRootAllowed(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, api.AuthEnabled{Enabled: h.b.AuthState().Enabled()}, true)
	case http.MethodPut:
		key := make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand never fails on Linux (it panics first)
		h.authWrite(w, r, nil, func() (*auth.Command, error) { return &auth.Command{Op: auth.OpEnable, Key: key}, nil }, nil)
	case http.MethodDelete:
		h.authWrite(w, r, nil, fixed(&auth.Command{Op: auth.OpDisable}), nil)
	}
}

func (h *Handler) serveUsers(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !h.rootAllowed(w, r) {
		return
	}
	st := h.b.AuthState()
	out := api.AuthUsers{}
	for _, name := range st.UserNames() {
		u, _ := st.User(name)
		uw := api.AuthUserWithRoles{User: u.Name}
		for _, rn := range u.Roles {
			// The list skips roles that do not exist; a single user's GET refuses them.
			if role, ok := st.Role(rn); ok {
				uw.Roles = append(uw.Roles, apiRole(role))
			}
		}
		out.Users = append(out.Users, uw)
	}
	writeJSON(w, http.StatusOK, out, true)
}

func (h *Handler) serveUser(w http.ResponseWriter, r *http.Request, name string) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPut, http.MethodDelete) || !h.rootAllowed(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		st := h.b.AuthState()
		u, ok := st.User(name)
		if !ok {
			writeAuthError(w, &auth.Error{Err: auth.ErrUserNotFound, Message: "auth: User " + name + " does not exist."})
			return
		}
		uw := api.AuthUserWithRoles{User: u.Name}
		for _, rn := range u.Roles {
			role, ok := st.Role(rn)
			if !ok {
				writeAuthError(w, &auth.Error{Err: auth.ErrRoleNotFound, Message: "auth: Role " + rn + " does not exist."})
				return
			}
			uw.Roles = append(uw.Roles, apiRole(role))
		}
		writeJSON(w, http.StatusOK, uw, true)
	case http.MethodDelete:
		h.authWrite(w, r, nil, fixed(&auth.Command{Op: auth.OpDeleteUser, Name: name}), nil)
	case http.MethodPut:
		body, ok := h.readAuthBody(w, r)
		if !ok {
			return
		}
		var in api.AuthUser
		if json.Unmarshal(body, &in) != nil {
			writeMessage(w, http.StatusBadRequest, errInvalidJSON.Error())
			return
		}
		if in.User != name {
			writeMessage(w, http.StatusBadRequest, errUserNameMismatch.Error())
			return
		}
		c := &auth.Command{Name: name, Roles: in.Roles, Grant: in.Grant, Revoke: in.Revoke}
		switch {
		case len(in.Grant) == 0 && len(in.Revoke) == 0 && len(in.Roles) != 0:
			c.Op = auth.OpCreateUser
		case len(in.Grant) == 0 && len(in.Revoke) == 0:
			c.Op = auth.OpCreateOrUpdateUser
		case len(in.Roles) != 0:
			writeMessage(w, http.StatusBadRequest, errRolesAndGrant.Error())
			return
		default:
			c.Op = auth.OpUpdateUser
		}
		build := func() (*auth.Command, error) {
			if in.Password != "" {
				// Hashed by the member that proposes, once, so every member applies the same hash.
				hash, err := auth.HashPassword(in.Password, h.authn.cfg.Verifier.PasswordCost)
				if err != nil {
					return nil, err
				}
				c.Hash = hash
			}
			return c, nil
		}
		h.authWrite(w, r, body, build, func(res auth.Result) (int, any) {
			status := http.StatusOK
			if res.Created {
				status = http.StatusCreated
			}
			return status, api.AuthUser{User: res.User.Name, Roles: res.User.Roles}
		})
	}
}

func (h *Handler) serveRoles(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !h.rootAllowed(w, r) {
		return
	}
	st := h.b.AuthState()
	out := api.AuthRoles{Roles: []api.AuthRole{}}
	for _, name := range st.RoleNames() {
		role, _ := st.Role(name)
		out.Roles = append(out.Roles, apiRole(role))
	}
	writeJSON(w, http.StatusOK, out, true)
}

func (h *Handler) serveRole(w http.ResponseWriter, r *http.Request, name string) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPut, http.MethodDelete) || !h.rootAllowed(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		role, ok := h.b.AuthState().Role(name)
		if !ok {
			writeAuthError(w, &auth.Error{Err: auth.ErrRoleNotFound, Message: "auth: Role " + name + " does not exist."})
			return
		}
		writeJSON(w, http.StatusOK, apiRole(role), true)
	case http.MethodDelete:
		h.authWrite(w, r, nil, fixed(&auth.Command{Op: auth.OpDeleteRole, Name: name}), nil)
	case http.MethodPut:
		body, ok := h.readAuthBody(w, r)
		if !ok {
			return
		}
		var in api.AuthRole
		if json.Unmarshal(body, &in) != nil {
			writeMessage(w, http.StatusBadRequest, errInvalidJSON.Error())
			return
		}
		if in.Role != name {
			writeMessage(w, http.StatusBadRequest, errRoleNameMismatch.Error())
			return
		}
		if permsEmpty(in.Grant) && permsEmpty(in.Revoke) {
			c := &auth.Command{Op: auth.OpCreateRole, Name: name,
				Perms: auth.Permissions{Read: in.Permissions.KV.Read, Write: in.Permissions.KV.Write}}
			// etcd answers a create with the body it was given.
			h.authWrite(w, r, body, fixed(c), func(auth.Result) (int, any) { return http.StatusCreated, in })
			return
		}
		if !permsEmpty(&in.Permissions) {
			writeMessage(w, http.StatusBadRequest, errPermsAndGrant.Error())
			return
		}
		c := &auth.Command{Op: auth.OpUpdateRole, Name: name}
		if in.Grant != nil {
			c.GrantPerms = auth.Permissions{Read: in.Grant.KV.Read, Write: in.Grant.KV.Write}
		}
		if in.Revoke != nil {
			c.RevokePerms = auth.Permissions{Read: in.Revoke.KV.Read, Write: in.Revoke.KV.Write}
		}
		h.authWrite(w, r, body, fixed(c), func(res auth.Result) (int, any) { return http.StatusOK, apiRole(res.Role) })
	}
}

func permsEmpty(p *api.AuthPermissions) bool {
	return p == nil || (len(p.KV.Read) == 0 && len(p.KV.Write) == 0)
}

func apiRole(r auth.Role) api.AuthRole {
	return api.AuthRole{Role: r.Name, Permissions: api.AuthPermissions{KV: api.AuthRW{Read: r.Perms.Read, Write: r.Perms.Write}}}
}

func (h *Handler) readAuthBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.Limits.MaxRequestBytes+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, errInvalidJSON.Error())
		return nil, false
	}
	if int64(len(body)) > h.cfg.Limits.MaxRequestBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "request body too large")
		return nil, false
	}
	return body, true
}

// fixed is a command that needs nothing made before it is proposed.
func fixed(c *auth.Command) func() (*auth.Command, error) {
	return func() (*auth.Command, error) { return c, nil }
}

// authWrite replicates the command build makes when this member leads, or relays the
// request as it came to the leader, which builds the same command itself: build runs only
// where the command is proposed, so a password is hashed once. It answers only once this
// member has applied the change, so the client's next request here sees it. answer renders
// the success body; nil answers an empty 200.
func (h *Handler) authWrite(w http.ResponseWriter, r *http.Request, body []byte, build func() (*auth.Command, error),
	answer func(auth.Result) (int, any)) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	res, err := h.b.ApplyAuth(ctx, build)
	switch {
	case err == nil:
	case isNotLeader(err) && (h.peer || r.Header.Get(headerForwarded) != ""):
		w.Header().Set(headerNotLeader, "1")
		writeMessage(w, http.StatusServiceUnavailable, errForwardLoop.Error())
		return
	case isNotLeader(err):
		h.fwd.forward(ctx, w, r, body)
		return
	default:
		writeAuthError(w, err)
		return
	}
	if h.peer || r.Header.Get(headerForwarded) != "" {
		// The relaying follower answers once it has applied this too (forward.waitApplied).
		w.Header().Set(headerApplied, h.appliedValue())
	}
	if answer == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	status, out := answer(res)
	writeJSON(w, status, out, true)
}
