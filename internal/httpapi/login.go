package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/api"
)

const loginPath = "/v1/auth/login"

// errLoginNeedsTLS refuses an external login that came over plain HTTP: its password would
// have crossed the network in the clear, so no directory request is made.
var errLoginNeedsTLS = errors.New("external credentials are accepted over TLS only")

// serveLogin exchanges a user name and password for a signed token, valid on every member
// until it expires or the user's password changes or the user is deleted. Native logins are
// checked against the replicated users, external ones against the directory.
func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	body, ok := h.readAuthBody(w, r)
	if !ok {
		return
	}
	var in api.LoginRequest
	if json.Unmarshal(body, &in) != nil {
		writeMessage(w, http.StatusBadRequest, errInvalidJSON.Error())
		return
	}
	if in.Mode == "" {
		in.Mode = api.LoginNative
	}
	if in.Mode != api.LoginNative && in.Mode != api.LoginExternal {
		writeMessage(w, http.StatusBadRequest, `mode must be "native" or "external"`)
		return
	}
	if in.Mode == api.LoginExternal && r.TLS == nil {
		h.authn.refusal(r, errLoginNeedsTLS)
		writeMessage(w, http.StatusForbidden, errLoginNeedsTLS.Error())
		return
	}
	st := h.b.AuthState()
	if !st.Enabled() {
		// Nothing is checked while auth is off: an empty token means "send none".
		writeJSON(w, http.StatusOK, api.LoginResponse{User: in.User}, true)
		return
	}
	id, err := h.authn.password(r, st, in.User, in.Password, in.Mode == api.LoginExternal)
	if err != nil {
		h.authn.refusal(r, err)
		writeKeyError(w, errInsufficientCredentials)
		return
	}
	ttl := h.authn.cfg.TokenTTL
	if id.External {
		ttl = min(ttl, h.authn.cfg.ExternalTokenTTL)
	}
	expires := h.authn.now().Add(ttl).Truncate(time.Second)
	tok, err := st.IssueToken(id, expires)
	if err != nil {
		writeKeyError(w, errInsufficientCredentials)
		return
	}
	writeJSON(w, http.StatusOK, api.LoginResponse{User: id.User, Token: tok, ExpiresAt: expires.UTC().Format(time.RFC3339)}, true)
}
