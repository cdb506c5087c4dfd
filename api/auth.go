package api

// Bodies of etcd's v2 auth API (/v2/auth/...) as etcd 3.4 reads and writes
// them, and of Cairn's login endpoint (/v1/auth/login).

// AuthEnabled is the body of GET /v2/auth/enable.
type AuthEnabled struct {
	Enabled bool `json:"enabled"`
}

// AuthUser is the body of PUT /v2/auth/users/NAME and of its answer (without
// the password). Roles renders as null when the user was created without
// any, as etcd does.
type AuthUser struct {
	User     string   `json:"user"`
	Password string   `json:"password,omitempty"`
	Roles    []string `json:"roles"`
	Grant    []string `json:"grant,omitempty"`
	Revoke   []string `json:"revoke,omitempty"`
}

// AuthUserWithRoles is a user as GET /v2/auth/users[/NAME] shows it: with its
// roles spelled out.
type AuthUserWithRoles struct {
	User  string     `json:"user"`
	Roles []AuthRole `json:"roles,omitempty"`
}

// AuthUsers is the body of GET /v2/auth/users.
type AuthUsers struct {
	Users []AuthUserWithRoles `json:"users"`
}

// AuthPermissions are a role's key permissions.
type AuthPermissions struct {
	KV AuthRW `json:"kv"`
}

// AuthRW lists keys; a trailing '*' makes a prefix.
type AuthRW struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// AuthRole is the body of PUT /v2/auth/roles/NAME and of GET answers.
type AuthRole struct {
	Role        string           `json:"role"`
	Permissions AuthPermissions  `json:"permissions"`
	Grant       *AuthPermissions `json:"grant,omitempty"`
	Revoke      *AuthPermissions `json:"revoke,omitempty"`
}

// AuthRoles is the body of GET /v2/auth/roles.
type AuthRoles struct {
	Roles []AuthRole `json:"roles"`
}

// AuthMessage is the body of every v2 auth refusal: {"message":"..."}.
type AuthMessage struct {
	Message string `json:"message"`
}

// Login modes of POST /v1/auth/login.
const (
	LoginNative   = "native"
	LoginExternal = "external"
)

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Mode     string `json:"mode"`
}

// LoginResponse is its answer: a signed token for "Authorization: Bearer",
// valid on every member until ExpiresAt (RFC 3339).
type LoginResponse struct {
	User      string `json:"user"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}
