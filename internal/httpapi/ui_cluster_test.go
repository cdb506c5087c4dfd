package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/ui"
)

const keysRefusal = `{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}` + "\n"

// TestUIKeysRoute: the dashboard's keys route is /v2/keys through a follower (writes relayed
// to the leader, reads and watches served), and its files are served with their types and
// the dashboard's Content-Security-Policy.
func TestUIKeysRoute(t *testing.T) {
	c := testcluster.New(t, 3)
	c.WaitLeader(t)
	base := c.Followers()[0].ClientURL

	steps := []struct {
		call   authCall
		status int
		want   string
	}{
		{authCall{method: "PUT", url: base + ui.KeysPrefix + "/dash/a", body: "value=1"}, 201, `"value":"1"`},
		{authCall{method: "GET", url: base + "/v2/keys/dash/a"}, 200, `"value":"1"`},
		{authCall{method: "GET", url: base + ui.KeysPrefix + "/dash/?sorted=true"}, 200, `"key":"/dash/a"`},
		{authCall{method: "PUT", url: base + ui.KeysPrefix + "/dash/a?prevIndex=999", body: "value=2"}, 412, `"errorCode":101`},
		{authCall{method: "DELETE", url: base + ui.KeysPrefix + "/dash/a"}, 200, `"action":"delete"`},
		{authCall{method: "GET", url: base + ui.KeysPrefix + "/dash/a"}, 404, `"errorCode":100`},
		{authCall{method: "PATCH", url: base + ui.KeysPrefix + "/dash/a"}, 405, ""},
		{authCall{method: "GET", url: base + ui.KeysPrefix + "/dash%2Fb"}, 404, `"cause":"/dash/b"`},
	}
	for i, s := range steps {
		got := s.call.do(t)
		if got.status != s.status || !strings.Contains(got.body, s.want) {
			t.Fatalf("step %d: %s %s: %d %q, want %d with %q", i, s.call.method, s.call.url, got.status, got.body, s.status, s.want)
		}
	}

	// A watch through the route sees a write made on another member.
	cur := authCall{method: "GET", url: base + ui.KeysPrefix + "/dash"}.do(t)
	var next uint64
	if _, err := fmt.Sscan(cur.header.Get("X-Etcd-Index"), &next); err != nil {
		t.Fatalf("X-Etcd-Index %q: %v", cur.header.Get("X-Etcd-Index"), err)
	}
	next++
	done := make(chan authAnswer, 1)
	go func() {
		done <- authCall{method: "GET", url: fmt.Sprintf("%s%s/dash?wait=true&recursive=true&waitIndex=%d", base, ui.KeysPrefix, next)}.do(t)
	}()
	if got := (authCall{method: "PUT", url: c.Members[0].ClientURL + "/v2/keys/dash/w", body: "value=seen"}).do(t); got.status >= 300 {
		t.Fatalf("put: %d %s", got.status, got.body)
	}
	select {
	case got := <-done:
		if got.status != 200 || !strings.Contains(got.body, `"key":"/dash/w","value":"seen"`) {
			t.Fatalf("watch: %d %q", got.status, got.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch through the route saw nothing within 10s")
	}

	for _, f := range []struct{ path, ctype string }{
		{"/ui/", "text/html; charset=utf-8"},
		{"/ui/app.js", "text/javascript; charset=utf-8"},
		{"/ui/style.css", "text/css; charset=utf-8"},
	} {
		resp, err := http.Get(base + f.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != f.ctype ||
			resp.Header.Get("Content-Security-Policy") != ui.ContentSecurityPolicy {
			t.Errorf("%s: %d %v", f.path, resp.StatusCode, resp.Header)
		}
	}
}

// TestUIWritesNeedRoot: with auth on, a write through the dashboard's route needs the root
// role even where the user, or the guest role, may write the key on /v2/keys; the refusal is
// etcd's code 110 naming neither key, value nor user, and nothing is written. Reads keep the
// ordinary per-key checks.
func TestUIWritesNeedRoot(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.Auth.Verifier.FailureBurst = 1000
	}))
	c.WaitLeader(t)
	base := c.Followers()[0].ClientURL
	setUpAuth(t, base)
	// The guest role may write /open/*: anonymous writes there are allowed on /v2/keys.
	for _, s := range []authCall{
		{method: "PUT", url: base + "/v2/auth/roles/guest", body: `{"role":"guest","grant":{"kv":{"read":["/open/*"],"write":["/open/*"]}}}`, user: "root", password: "rootpw"},
		{method: "PUT", url: base + "/v2/keys/open/k", body: "value=v0"},
		{method: "PUT", url: base + "/v2/keys/app/k", body: "value=v0", user: "alice", password: "alicepw"},
	} {
		if got := s.do(t); got.status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.url, got.status, got.body)
		}
	}
	aliceTok := login(t, base, "alice", "alicepw")

	refused := []authCall{
		{method: "PUT", url: base + ui.KeysPrefix + "/app/k", body: "value=hidden-value", user: "alice", password: "alicepw"},
		{method: "PUT", url: base + ui.KeysPrefix + "/app/k", body: "value=hidden-value", bearer: aliceTok},
		{method: "POST", url: base + ui.KeysPrefix + "/app", body: "value=hidden-value", bearer: aliceTok},
		{method: "DELETE", url: base + ui.KeysPrefix + "/app/k", bearer: aliceTok},
		{method: "PUT", url: base + ui.KeysPrefix + "/app/new?prevExist=false", body: "value=hidden-value", bearer: aliceTok},
		{method: "PUT", url: base + ui.KeysPrefix + "/open/k", body: "value=hidden-value"},
		{method: "DELETE", url: base + ui.KeysPrefix + "/open/k"},
		{method: "PUT", url: base + ui.KeysPrefix + "/open/k", body: "value=hidden-value", user: "root", password: "wrong"},
	}
	for _, call := range refused {
		got := call.do(t)
		if got.status != 401 || got.body != keysRefusal {
			t.Errorf("%s %s as %q%q: %d %q, want 401 %q", call.method, call.url, call.user, call.bearer, got.status, got.body, keysRefusal)
			continue
		}
		for _, secret := range []string{"hidden-value", "alice", "/app", "/open", "v0"} {
			if strings.Contains(got.body, secret) || strings.Contains(fmt.Sprint(got.header), secret) {
				t.Errorf("%s %s: refusal leaks %q: %v %q", call.method, call.url, secret, got.header, got.body)
			}
		}
	}
	// Nothing was written or deleted.
	for _, k := range []struct{ key, user, password string }{{"/app/k", "alice", "alicepw"}, {"/open/k", "", ""}} {
		got := authCall{method: "GET", url: base + "/v2/keys" + k.key, user: k.user, password: k.password}.do(t)
		if got.status != 200 || !strings.Contains(got.body, `"value":"v0"`) {
			t.Fatalf("%s after the refusals: %d %s", k.key, got.status, got.body)
		}
	}
	if got := (authCall{method: "GET", url: base + "/v2/keys/app/new", user: "alice", password: "alicepw"}).do(t); got.status != 404 {
		t.Fatalf("/app/new after the refusals: %d %s", got.status, got.body)
	}

	// Reads through the route keep the per-key checks: alice reads /app, not /other.
	if got := (authCall{method: "GET", url: base + ui.KeysPrefix + "/app/k", bearer: aliceTok}).do(t); got.status != 200 {
		t.Fatalf("alice reads /app/k through the route: %d %s", got.status, got.body)
	}
	if got := (authCall{method: "GET", url: base + ui.KeysPrefix + "/app/secret", user: "carol", password: "carolpw"}).do(t); got.status != 401 || got.body != keysRefusal {
		t.Fatalf("carol reads /app/secret through the route: %d %s", got.status, got.body)
	}

	// Root writes through the route, by token and by password, on every member.
	for i, m := range c.Members {
		tok := login(t, m.ClientURL, "root", "rootpw")
		key := fmt.Sprintf("/app/root%d", i)
		for _, call := range []authCall{
			{method: "PUT", url: m.ClientURL + ui.KeysPrefix + key, body: "value=r", bearer: tok},
			{method: "PUT", url: m.ClientURL + ui.KeysPrefix + key + "?prevValue=r", body: "value=r2", user: "root", password: "rootpw"},
			{method: "DELETE", url: m.ClientURL + ui.KeysPrefix + key, bearer: tok},
		} {
			if got := call.do(t); got.status >= 300 {
				t.Errorf("root %s %s: %d %s", call.method, call.url, got.status, got.body)
			}
		}
	}

	// The dashboard's files need no credentials: the page asks for them itself.
	testcluster.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		got := authCall{method: "GET", url: base + "/ui/"}.do(t)
		if got.status != 200 || !strings.Contains(got.body, `id="login-form"`) {
			return fmt.Errorf("/ui/: %d", got.status)
		}
		return nil
	})
}
