package httpapi_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/directory"
	"github.com/cairn-io/cairn/internal/directory/slapdtest"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// countingDirectory is the real directory, counting the checks that reach it.
type countingDirectory struct {
	d     *directory.Directory
	calls atomic.Int64
}

func (c *countingDirectory) Authenticate(ctx context.Context, user, password string, now time.Time) (directory.Identity, error) {
	c.calls.Add(1)
	return c.d.Authenticate(ctx, user, password, now)
}

func ldapConfig(t *testing.T, s *slapdtest.Server, url string) directory.Config {
	pw := filepath.Join(t.TempDir(), "bind-pw")
	if err := os.WriteFile(pw, []byte(slapdtest.SearchPW), 0o600); err != nil {
		t.Fatal(err)
	}
	return directory.Config{URL: url, CAFile: s.CAFile, BindDN: slapdtest.SearchDN, BindPasswordFile: pw,
		UserSearchBase: slapdtest.PeopleBase, UserFilter: "(uid=%s)",
		GroupSearchBase: slapdtest.GroupsBase, GroupFilter: "(memberUid=%s)", CacheTTL: time.Minute}
}

// doWith sends call through client (the cluster's, which speaks its TLS).
func doWith(t *testing.T, client *http.Client, call authCall) authAnswer {
	t.Helper()
	saved := http.DefaultClient
	http.DefaultClient = client
	defer func() { http.DefaultClient = saved }()
	return call.do(t)
}

// TestLDAPUsersOverTLS: a user the native store does not know logs in through the directory
// (HTTP Basic, as etcdctl sends it, and POST /v1/auth/login with mode external), and gets
// the permissions of the Cairn roles named like its directory groups.
func TestLDAPUsersOverTLS(t *testing.T) {
	s := slapdtest.Start(t)
	set := tlstest.NewSet(t, "cairn-test-client")
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) { cfg.LDAP = ldapConfig(t, s, s.LDAPSURL) }))
	c.WaitLeader(t)
	hc := c.HTTPClient()
	base := c.Followers()[0].ClientURL
	for _, call := range []authCall{
		{method: "PUT", url: base + "/v2/auth/users/root", body: `{"user":"root","password":"rootpw"}`},
		{method: "PUT", url: base + "/v2/auth/roles/app", body: `{"role":"app","permissions":{"kv":{"read":["/app/*"],"write":["/app/*"]}}}`},
		{method: "PUT", url: base + "/v2/auth/enable"},
		{method: "PUT", url: base + "/v2/auth/roles/guest", body: `{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}`, user: "root", password: "rootpw"},
	} {
		if got := doWith(t, hc, call); got.status >= 300 {
			t.Fatalf("%s %s: %d %s", call.method, call.url, got.status, got.body)
		}
	}
	// alice is in the directory only, in groups app and ops.
	if got := doWith(t, hc, authCall{method: "PUT", url: base + "/v2/keys/app/x", body: "value=1", user: "alice", password: "alice-pw"}); got.status != 201 {
		t.Fatalf("LDAP user writing under its group's role: %d %s", got.status, got.body)
	}
	for name, call := range map[string]authCall{
		"outside its roles": {method: "GET", url: base + "/v2/keys/other", user: "alice", password: "alice-pw"},
		"wrong password":    {method: "GET", url: base + "/v2/keys/app/x", user: "alice", password: "nope"},
		"no group":          {method: "GET", url: base + "/v2/keys/app/x", user: "bob", password: "bob-pw"},
		"unknown":           {method: "GET", url: base + "/v2/keys/app/x", user: "zed", password: "zed"},
	} {
		if got := doWith(t, hc, call); got.status != 401 {
			t.Errorf("%s: %d %s", name, got.status, got.body)
		}
	}
	got := doWith(t, hc, authCall{method: "POST", url: base + "/v1/auth/login", body: `{"user":"alice","password":"alice-pw","mode":"external"}`})
	var lr api.LoginResponse
	if got.status != 200 || json.Unmarshal([]byte(got.body), &lr) != nil || lr.Token == "" {
		t.Fatalf("external login: %d %s", got.status, got.body)
	}
	exp, _ := time.Parse(time.RFC3339, lr.ExpiresAt)
	if time.Until(exp) > time.Minute+time.Second {
		t.Fatalf("external token valid until %s, beyond the LDAP cache TTL", lr.ExpiresAt)
	}
	for _, m := range c.Members {
		if got := doWith(t, hc, authCall{method: "GET", url: m.ClientURL + "/v2/keys/app/x", bearer: lr.Token}); got.status != 200 {
			t.Errorf("external token on %s: %d %s", m.Name, got.status, got.body)
		}
	}
	if got := doWith(t, hc, authCall{method: "POST", url: base + "/v1/auth/login", body: `{"user":"alice","password":"nope","mode":"external"}`}); got.status != 401 || strings.Contains(got.body, "alice") {
		t.Fatalf("wrong external login: %d %s", got.status, got.body)
	}
}

// TestLDAPNeverOverPlainHTTP: a clear password reaches the directory only over TLS. Over
// plain HTTP an external login is refused with a clear error and no directory request.
func TestLDAPNeverOverPlainHTTP(t *testing.T) {
	s := slapdtest.Start(t)
	d, err := directory.New(ldapConfig(t, s, s.LDAPSURL))
	if err != nil {
		t.Fatal(err)
	}
	cd := &countingDirectory{d: d}
	c := testcluster.New(t, 1, testcluster.WithConfig(func(i int, cfg *node.Config) { cfg.Auth.Directory = cd }))
	c.WaitLeader(t)
	base := c.Members[0].ClientURL
	setUpAuth(t, base)
	// bob is in the directory only.
	if got := (authCall{method: "GET", url: base + "/v2/keys/app/secret", user: "bob", password: "bob-pw"}).do(t); got.status != 401 {
		t.Fatalf("Basic for a directory user over plain HTTP: %d %s", got.status, got.body)
	}
	got := authCall{method: "POST", url: base + "/v1/auth/login", body: `{"user":"alice","password":"alice-pw","mode":"external"}`}.do(t)
	if got.status != http.StatusForbidden || !strings.Contains(got.body, "TLS") {
		t.Fatalf("external login over plain HTTP: %d %s", got.status, got.body)
	}
	if n := cd.calls.Load(); n != 0 {
		t.Fatalf("%d directory requests made for plain-HTTP logins", n)
	}
	// The native user of that name is still checked natively.
	if got := (authCall{method: "GET", url: base + "/v2/keys/app/secret", user: "alice", password: "alicepw"}).do(t); got.status != 200 {
		t.Fatalf("native alice: %d %s", got.status, got.body)
	}
}

// TestLDAPDownKeepsNativeUsers: an unreachable directory refuses its users, and native users
// log in as before.
func TestLDAPDownKeepsNativeUsers(t *testing.T) {
	s := slapdtest.Start(t)
	set := tlstest.NewSet(t, "cairn-test-client")
	cfg := ldapConfig(t, s, "ldaps://127.0.0.1:1")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}),
		testcluster.WithConfig(func(i int, nc *node.Config) { nc.LDAP = cfg }))
	c.WaitLeader(t)
	hc := c.HTTPClient()
	base := c.Members[0].ClientURL
	saved := http.DefaultClient
	http.DefaultClient = hc
	setUpAuth(t, base)
	http.DefaultClient = saved
	if got := doWith(t, hc, authCall{method: "GET", url: base + "/v2/keys/app/secret", user: "dirk", password: "x"}); got.status != 401 {
		t.Fatalf("directory user with the directory down: %d %s", got.status, got.body)
	}
	if got := doWith(t, hc, authCall{method: "GET", url: base + "/v2/keys/app/secret", user: "alice", password: "alicepw"}); got.status != 200 {
		t.Fatalf("native user with the directory down: %d %s", got.status, got.body)
	}
}

// TestAuthMatrixCertificates: on a client port with --client-cert-auth, a certificate whose CN
// names no user acts as the (emptied) guest and is refused everywhere a password would be; a
// certificate from another CA gets no answer at all; a certificate naming a user acts as it.
func TestAuthMatrixCertificates(t *testing.T) {
	set := tlstest.NewSet(t, "alice")
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	c.WaitLeader(t)
	c.AddRole(t, "", "app", "/app/*")
	c.AddUser(t, "", "alice", "alicepw", "app")
	c.EnableAuth(t, "rootpw")
	base := c.Followers()[0].ClientURL

	clientWith := func(p *tlstest.Pair) *http.Client {
		cfg := set.ClientConfig(t)
		cfg.Certificates = []tls.Certificate{p.TLS(t)}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	unknown := clientWith(set.CA.Issue(t, tlstest.Leaf{CN: "mallory", ClientOnly: true}))
	other := tlstest.NewCA(t, "another CA")
	foreign := clientWith(other.Issue(t, tlstest.Leaf{CN: "alice", ClientOnly: true}))
	alice := c.HTTPClient() // the set's client certificate: CN alice

	guarded := []struct{ method, path, body string }{
		{"GET", "/v2/keys/app/x", ""}, {"PUT", "/v2/keys/app/x", "value=1"},
		{"GET", "/v2/keys/app/x?wait=true&waitIndex=1", ""},
		{"GET", "/v2/auth/users", ""}, {"PUT", "/v2/auth/enable", ""},
		{"POST", "/v2/members", `{"peerURLs":["http://127.0.0.1:9"]}`}, {"GET", "/v1/cluster", ""},
	}
	for _, g := range guarded {
		got := doWith(t, unknown, authCall{method: g.method, url: base + g.path, body: g.body})
		if got.status != 401 || strings.Contains(got.body, "mallory") || strings.Contains(got.body, "/app") {
			t.Errorf("unknown user's certificate: %s %s: %d %s", g.method, g.path, got.status, got.body)
		}
		req, _ := http.NewRequest(g.method, base+g.path, strings.NewReader(g.body))
		if resp, err := foreign.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("another CA's certificate: %s %s answered %d", g.method, g.path, resp.StatusCode)
		}
	}
	if got := doWith(t, alice, authCall{method: "PUT", url: base + "/v2/keys/app/x", body: "value=by-cert"}); got.status != 201 {
		t.Fatalf("alice by certificate: %d %s", got.status, got.body)
	}
	if got := doWith(t, alice, authCall{method: "PUT", url: base + "/v2/keys/other", body: "value=1"}); got.status != 401 {
		t.Fatalf("alice by certificate outside her role: %d %s", got.status, got.body)
	}
	// A password overrides the certificate, as in etcd.
	if got := doWith(t, alice, authCall{method: "GET", url: base + "/v2/auth/users", user: "root", password: "rootpw"}); got.status != 200 {
		t.Fatalf("root's password over alice's certificate: %d %s", got.status, got.body)
	}
}
