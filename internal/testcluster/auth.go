package testcluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/api"
)

// AuthCall sends one request to member via's client port, with HTTP Basic credentials when
// user is set, and returns the status and body.
func (c *Cluster) AuthCall(via int, method, path, body, user, password string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.member(via).ClientURL+path, rd)
	if err != nil {
		return 0, "", err
	}
	if strings.HasPrefix(body, "value=") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustAuthCall is AuthCall failing the test on a transport error or an answer >= 300.
func (c *Cluster) mustAuthCall(t testing.TB, via int, method, path, body, user, password string) {
	t.Helper()
	status, got, err := c.AuthCall(via, method, path, body, user, password)
	if err != nil || status >= 300 {
		t.Fatalf("%s %s: %d %s %v", method, path, status, got, err)
	}
}

// AddRole creates a role with read and write access to each of prefixes (keys, or "/dir/*").
func (c *Cluster) AddRole(t testing.TB, root, name string, prefixes ...string) {
	t.Helper()
	r := api.AuthRole{Role: name, Permissions: api.AuthPermissions{KV: api.AuthRW{Read: prefixes, Write: prefixes}}}
	b, _ := json.Marshal(r)
	c.mustAuthCall(t, 0, http.MethodPut, "/v2/auth/roles/"+name, string(b), "root", root)
}

// AddUser creates a user with a password and roles (as root when auth is on).
func (c *Cluster) AddUser(t testing.TB, root, name, password string, roles ...string) {
	t.Helper()
	if roles == nil {
		roles = []string{}
	}
	b, _ := json.Marshal(api.AuthUser{User: name, Password: password, Roles: roles})
	c.mustAuthCall(t, 0, http.MethodPut, "/v2/auth/users/"+name, string(b), "root", root)
}

// EnableAuth creates the root user with password root, turns auth on and takes every access
// away from the guest role, so that anonymous requests get nothing.
func (c *Cluster) EnableAuth(t testing.TB, root string) {
	t.Helper()
	c.mustAuthCall(t, 0, http.MethodPut, "/v2/auth/users/root", fmt.Sprintf(`{"user":"root","password":%q}`, root), "", "")
	c.mustAuthCall(t, 0, http.MethodPut, "/v2/auth/enable", "", "root", root)
	c.mustAuthCall(t, 0, http.MethodPut, "/v2/auth/roles/guest",
		`{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}`, "root", root)
}
