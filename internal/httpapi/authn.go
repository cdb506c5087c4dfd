package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/directory"
	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/ui"
)

// Directory checks external (LDAP) credentials; internal/directory is the one
// there is.
type Directory interface {
	Authenticate(ctx context.Context, user, password string, now time.Time) (directory.Identity, error)
}

// AuthConfig configures authentication at the client port's edge.
type AuthConfig struct {
	// Directory checks users the native store does not know, over TLS only
	// (nil: no external users).
	Directory Directory
	// TokenTTL is how long a token from POST /v1/auth/login is valid.
	TokenTTL time.Duration
	// ExternalTokenTTL bounds an external user's token, so that a disabled
	// directory account stops working within it (--ldap-cache-ttl).
	ExternalTokenTTL time.Duration
	// Verifier settings (cache size, failures per source, the bcrypt cost of new passwords).
	Verifier auth.VerifierConfig
}

// Refusals of authentication. They reach the client as one 401 that names
// nothing; they differ only in the server's log.
var (
	errNoCredentials  = errors.New("malformed or unsupported Authorization header")
	errTLSRequired    = errors.New("external credentials over plain HTTP refused")
	errExternalDenied = errors.New("external login refused")
)

// authenticator turns a request's credentials into an identity, once per
// request, at the edge: HTTP Basic (native users, then the directory over
// TLS), a Bearer token from /v1/auth/login, or a verified client
// certificate whose CN names a user. Without any, the request is anonymous
// and gets the guest role.
type authenticator struct {
	b        Backend
	cfg      AuthConfig
	verifier *auth.Verifier
	log      *slog.Logger
	now      func() time.Time
}

func newAuthenticator(b Backend, cfg AuthConfig, log *slog.Logger) *authenticator {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 10 * time.Minute
	}
	if cfg.ExternalTokenTTL <= 0 {
		cfg.ExternalTokenTTL = time.Minute
	}
	return &authenticator{b: b, cfg: cfg, verifier: auth.NewVerifier(cfg.Verifier), log: log, now: time.Now}
}

// identify authenticates r against st. A request without credentials is
// anonymous (the zero Identity); wrong credentials are an error.
func (a *authenticator) identify(r *http.Request, st *auth.State) (auth.Identity, error) {
	hdr := r.Header["Authorization"]
	if len(hdr) == 0 {
		if cn, ok := tlsconf.ClientCommonName(r); ok {
			if _, known := st.User(cn); known {
				return auth.Identity{User: cn}, nil
			}
		}
		return auth.Identity{}, nil
	}
	if len(hdr) != 1 {
		return auth.Identity{}, errNoCredentials
	}
	scheme, cred, _ := strings.Cut(hdr[0], " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return auth.Identity{}, errNoCredentials
		}
		user, password, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" {
			return auth.Identity{}, errNoCredentials
		}
		return a.password(r, st, user, password, false)
	case strings.EqualFold(scheme, "Bearer"):
		return st.VerifyToken(strings.TrimSpace(cred), a.now())
	}
	return auth.Identity{}, errNoCredentials
}

// password checks a user name and password: native users first; a name the
// native store does not know goes to the directory, but only over TLS, since
// the password travels in the clear. external forces the directory.
func (a *authenticator) password(r *http.Request, st *auth.State, user, password string, external bool) (auth.Identity, error) {
	if !external {
		if _, native := st.User(user); native || a.cfg.Directory == nil {
			u, err := a.verifier.Check(st, user, password, sourceOf(r), a.now())
			if err != nil {
				return auth.Identity{}, err
			}
			return auth.Identity{User: u.Name}, nil
		}
	}
	if a.cfg.Directory == nil {
		return auth.Identity{}, errExternalDenied
	}
	if r.TLS == nil {
		return auth.Identity{}, errTLSRequired
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	id, err := a.cfg.Directory.Authenticate(ctx, user, password, a.now())
	if err != nil {
		if errors.Is(err, directory.ErrUnavailable) {
			a.log.Warn("directory unavailable; external login refused", "err", err)
		}
		return auth.Identity{}, err
	}
	return auth.Identity{User: id.User, External: true, Groups: id.Groups}, nil
}

// sourceOf is the client's address without its port, the unit that failed
// logins are limited by.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// refusal logs why a request was refused, at debug level and without the
// user name, key or value: the client gets the same answer whatever it was.
func (a *authenticator) refusal(r *http.Request, err error) {
	a.log.Debug("request refused by authentication", "method", r.Method, "path_class", pathClass(r.URL.Path),
		"source", sourceOf(r), "reason", err)
}

// pathClass names the API a path belongs to, never the key.
func pathClass(p string) string {
	for _, prefix := range []string{keysPrefix, membersPrefix, authPrefix, clusterPrefix, loginPath, ui.KeysPrefix} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return prefix
		}
	}
	return "other"
}

// The checks below are the one place that decides who may do what; handlers
// call them right after validating the method, as etcd orders its checks. The
// peer port is trusted as etcd trusts it: a member relays only what the member
// a client reached has already checked.

// keysAllowed authenticates r and checks its access to key. It answers the
// refusal itself (etcd's 401 with code 110) and reports false.
func (h *Handler) keysAllowed(w http.ResponseWriter, r *http.Request, key string, recursive bool) bool {
	st := h.b.AuthState()
	if h.peer || !st.Enabled() {
		return true
	}
	id, err := h.authn.identify(r, st)
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if err == nil && st.KeyAccess(id, key, write, recursive) {
		return true
	}
	if err == nil {
		err = errors.New("no permission on the key")
	}
	h.authn.refusal(r, err)
	h.writeKeysUnauthorized(w, err)
	return false
}

// rootAllowed authenticates r and checks that it holds the root role,
// answering etcd's {"message":"Insufficient credentials"} 401 otherwise.
func (h *Handler) rootAllowed(w http.ResponseWriter, r *http.Request) bool {
	if err := h.rootCheck(r); err != nil {
		writeUnauthorized(w, err)
		return false
	}
	return true
}

// rootCheck authenticates r and checks that it holds the root role, logging a refusal; the
// caller answers it in its API's shape.
func (h *Handler) rootCheck(r *http.Request) error {
	st := h.b.AuthState()
	if h.peer || !st.Enabled() {
		return nil
	}
	id, err := h.authn.identify(r, st)
	if err == nil && !st.IsRoot(id) {
		err = errRootNeeded
	}
	if err != nil {
		h.authn.refusal(r, err)
	}
	return err
}

// writeRootAllowed lets reads through and checks writes as rootAllowed does,
// as etcd guards /v2/members and /v2/auth/enable.
func (h *Handler) writeRootAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	return h.rootAllowed(w, r)
}

// authenticatedAllowed needs any identity but the anonymous one, for Cairn's
// own cluster view.
func (h *Handler) authenticatedAllowed(w http.ResponseWriter, r *http.Request) bool {
	st := h.b.AuthState()
	if h.peer || !st.Enabled() {
		return true
	}
	id, err := h.authn.identify(r, st)
	if err == nil && !id.Anonymous() {
		return true
	}
	if err == nil {
		err = errors.New("anonymous")
	}
	h.authn.refusal(r, err)
	writeUnauthorized(w, err)
	return false
}

// writeKeysUnauthorized is etcd's answer on /v2/keys: code 110 with index 0.
func (h *Handler) writeKeysUnauthorized(w http.ResponseWriter, err error) {
	markExpired(w, err)
	writeKeyError(w, errInsufficientCredentials)
}

// writeUnauthorized is etcd's answer elsewhere; etcd sends it without its
// cluster header.
func writeUnauthorized(w http.ResponseWriter, err error) {
	markExpired(w, err)
	w.Header().Del("X-Etcd-Cluster-Id")
	writeMessage(w, http.StatusUnauthorized, insufficientCredentials)
}

// markExpired tells a client whose token expired to log in again (RFC 6750),
// which says nothing a client did not already hold.
func markExpired(w http.ResponseWriter, err error) {
	if errors.Is(err, auth.ErrTokenExpired) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="token expired"`)
	}
}
