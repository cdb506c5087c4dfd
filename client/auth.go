package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/api"
)

// AuthMode is how the client authenticates.
type AuthMode int

const (
	// AuthModeNone sends no credentials: the cluster's guest role applies.
	AuthModeNone AuthMode = iota
	// AuthModeNative logs in with a user and password kept (hashed) by the cluster.
	AuthModeNative
	// AuthModeExternal logs in with a user and password checked by the cluster's directory
	// (LDAP). The password travels in the clear inside TLS, so it needs TLS.
	AuthModeExternal
	// AuthModePKI authenticates with the client certificate: its CN is the user.
	AuthModePKI
)

func (m AuthMode) String() string {
	switch m {
	case AuthModeNone:
		return "none"
	case AuthModeNative:
		return "native"
	case AuthModeExternal:
		return "external"
	case AuthModePKI:
		return "pki"
	}
	return fmt.Sprintf("AuthMode(%d)", int(m))
}

// Authentication set-up errors, returned by Connect.
var (
	// ErrTLSRequired: external credentials need WithTLSConfigOf, or the password would cross
	// the network in the clear.
	ErrTLSRequired = errors.New("cairn: external credentials need TLS (WithTLSConfigOf)")
	// ErrTLSNameRequired: certificate credentials need a TLS name for every seed, its own or
	// the TLS builder's TLSName, so that the client knows whom it shows its certificate to.
	ErrTLSNameRequired = errors.New("cairn: certificate credentials need a TLS name for every host")
)

// WithNativeCredentials logs in as user with password, both kept by the cluster. Empty
// strings for both turn authentication off.
func (d *ClusterDefinition) WithNativeCredentials(user, password string) *ClusterDefinition {
	return d.withCredentials(AuthModeNative, user, password)
}

// WithExternalCredentials logs in as user with password, checked by the cluster's directory
// (LDAP). Connect fails with ErrTLSRequired when TLS is not configured.
func (d *ClusterDefinition) WithExternalCredentials(user, password string) *ClusterDefinition {
	return d.withCredentials(AuthModeExternal, user, password)
}

func (d *ClusterDefinition) withCredentials(mode AuthMode, user, password string) *ClusterDefinition {
	if user == "" && password == "" {
		mode = AuthModeNone
	}
	d.authMode, d.user, d.password = mode, user, password
	return d
}

// WithCertificateCredentials authenticates with the client certificate set with the TLS
// builder's CertFile and KeyFile (its CN is the user), and turns TLS on if it is not.
func (d *ClusterDefinition) WithCertificateCredentials() *ClusterDefinition {
	d.WithTLSConfigOf()
	d.authMode, d.user, d.password = AuthModePKI, "", ""
	return d
}

// AuthMode is the authentication the definition asks for.
func (d *ClusterDefinition) AuthMode() AuthMode { return d.authMode }

// checkAuth refuses, at Connect, credentials that cannot work as configured.
func (d *ClusterDefinition) checkAuth() error {
	switch d.authMode {
	case AuthModeNative:
		if d.user == "" {
			return fmt.Errorf("%w: native credentials without a user name", ErrInvalidArgument)
		}
	case AuthModeExternal:
		if d.tls == nil {
			return ErrTLSRequired
		}
		if d.user == "" {
			return fmt.Errorf("%w: external credentials without a user name", ErrInvalidArgument)
		}
	case AuthModePKI:
		var missing []string
		if d.tls.certFile == "" {
			missing = append(missing, "CertFile")
		}
		if d.tls.keyFile == "" {
			missing = append(missing, "KeyFile")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: certificate credentials need the TLS builder's %s", ErrInvalidArgument, strings.Join(missing, " and "))
		}
		for _, h := range d.seeds {
			if h.TLSName == "" && d.tls.name == "" {
				return fmt.Errorf("%w: host %s", ErrTLSNameRequired, h)
			}
		}
	}
	return nil
}

// session holds the token of a native or external login. The token is renewed by the
// tender before it expires, and taken again when a node says it expired.
type authSession struct {
	mode           AuthMode
	user, password string

	mu      sync.Mutex
	token   string
	issued  time.Time
	expires time.Time
	// off: the cluster answered that auth is off, so no token is needed for now.
	off bool

	// logins counts tokens taken; retried counts requests refused and sent again after a
	// fresh login (a token that expired before the tender renewed it).
	logins, retried atomic.Int64
}

func (a *authSession) usesLogin() bool {
	return a != nil && (a.mode == AuthModeNative || a.mode == AuthModeExternal)
}

// authorize adds the token to a request.
func (a *authSession) authorize(req *http.Request) {
	if !a.usesLogin() {
		return
	}
	a.mu.Lock()
	tok := a.token
	a.mu.Unlock()
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}

// renewAt is when the token should be replaced: two thirds through its life. A client
// without a token (auth turned on after it connected, or a failed renewal) tries again after
// retry.
func (a *authSession) renewAt(retry time.Duration) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.off:
		return time.Now().Add(retry)
	case a.token == "":
		return time.Now().Add(retry)
	}
	return a.issued.Add(a.expires.Sub(a.issued) * 2 / 3)
}

// login takes a token from the node at ep. A refusal is ErrUnauthorized naming the node.
func (c *Cluster) login(ctx context.Context, ep endpoint) error {
	a := c.auth
	if !a.usesLogin() {
		return nil
	}
	mode := api.LoginNative
	if a.mode == AuthModeExternal {
		mode = api.LoginExternal
	}
	body, _ := json.Marshal(api.LoginRequest{User: a.user, Password: a.password, Mode: mode})
	// A login costs the server a password hash on purpose: it gets longer than a tend request.
	ctx, cancel := context.WithTimeout(ctx, max(c.settings.Timeout, loginTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.base+"/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient(ep.tlsName).Do(req)
	if err != nil {
		return c.tlsError(err, ep)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	node := resp.Header.Get("X-Cairn-Node")
	if node == "" {
		node = ep.who
	}
	if resp.StatusCode != http.StatusOK {
		return replyError(&reply{status: resp.StatusCode, header: resp.Header, body: b, node: node})
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(b, &lr); err != nil {
		return fmt.Errorf("cairn: node %s: login answer: %w", node, err)
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if lr.Token == "" {
		a.token, a.off = "", true
		return nil
	}
	exp, err := time.Parse(time.RFC3339, lr.ExpiresAt)
	if err != nil {
		return fmt.Errorf("cairn: node %s: login answer: expires_at: %w", node, err)
	}
	a.token, a.off, a.issued, a.expires = lr.Token, false, now, exp
	a.logins.Add(1)
	return nil
}

// relogin takes a new token from any reachable node, the given one first.
func (c *Cluster) relogin(ctx context.Context, first *node) error {
	nodes := []*node{}
	if first != nil {
		nodes = append(nodes, first)
	}
	c.mu.RLock()
	for _, n := range c.nodes {
		if n != first && n.addr != "" {
			nodes = append(nodes, n)
		}
	}
	c.mu.RUnlock()
	var errs []error
	for _, n := range nodes {
		err := c.login(ctx, n.endpoint())
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrUnauthorized) {
			return err // the credentials are wrong: another node will say the same
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return ErrNoNodes
	}
	return errors.Join(errs...)
}

// renewLoop replaces the token before it expires, on its own goroutine so that a slow tend
// (a node that does not answer) never delays it.
func (c *Cluster) renewLoop() {
	defer c.wg.Done()
	for {
		t := time.NewTimer(time.Until(c.auth.renewAt(c.settings.TendInterval)))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c.auth.mu.Lock()
		off := c.auth.off
		c.auth.mu.Unlock()
		if off {
			continue // auth is off: a request's 401 will tell when it is turned on
		}
		if err := c.relogin(c.ctx, nil); err != nil {
			// Requests log in again on their own 401; a later tick tries again.
			c.auth.mu.Lock()
			c.auth.token = ""
			c.auth.mu.Unlock()
		}
	}
}

// loginAgain reports whether a reply says the request's credentials were refused in a way a
// fresh login may fix: any 401 while the client logs in with a password.
func (c *Cluster) loginAgain(rep *reply) bool {
	return rep.status == http.StatusUnauthorized && c.auth.usesLogin()
}

// loginTimeout is the least a login may take.
const loginTimeout = 5 * time.Second

// errLoggedInAgain makes the retry loop send a refused request again after a fresh login.
var errLoggedInAgain = errors.New("cairn: logged in again")
