package compat

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	client "go.etcd.io/etcd/client/v2"

	"github.com/cairn-io/cairn/test/procs"
)

// etcdctlIn runs etcdctl with stdin (its password prompts read it).
func etcdctlIn(t *testing.T, endpoints, stdin string, args ...string) ctlResult {
	t.Helper()
	cmd, out, errb := etcdctlCmd(ctx(t), t, endpoints, args...)
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	return ctlResult{out.String(), errb.String(), exitCode(t, err)}
}

// TestEtcdctlUsersAndRoles drives users, roles and auth with etcdctl v2 against a follower of
// a three-member cluster, expecting what etcd 3.4 prints for the same commands, then kills
// every member with SIGKILL and finds every user, role, grant and the enabled flag again.
func TestEtcdctlUsersAndRoles(t *testing.T) {
	c := procs.StartCluster(t, 3, procs.Options{})
	leader, err := c.WaitLeader(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ep := c.Followers(leader)[0].ClientURL()
	all := strings.Join(c.ClientURLs(), ",")
	steps := []struct {
		stdin string
		args  []string
		rc    int
		out   string
	}{
		{"", []string{"user", "add", "root:rootpw"}, 0, "User root created\n"},
		{"pw2\n", []string{"user", "add", "alice"}, 0, "New password: \nUser alice created\n"},
		{"", []string{"role", "add", "app"}, 0, "Role app created\n"},
		{"", []string{"role", "grant", "app", "--path", "/app/*", "--readwrite"}, 0, "Role app updated\n"},
		{"", []string{"user", "grant", "alice", "--roles", "app"}, 0, "User alice updated\n"},
		{"", []string{"user", "get", "alice"}, 0, "User: alice\nRoles:  app\n"},
		{"", []string{"user", "list"}, 0, "alice\nroot\n"},
		{"", []string{"role", "list"}, 0, "app\nroot\n"},
		{"", []string{"role", "get", "app"}, 0, "Role: app\nKV Read:\n\t/app/*\nKV Write:\n\t/app/*\n"},
		{"", []string{"auth", "enable"}, 0, "Authentication Enabled\n"},
		{"", []string{"--username", "root:rootpw", "user", "list"}, 0, "alice\nroot\n"},
		{"", []string{"user", "list"}, 1, ""},
		{"", []string{"--username", "alice:pw2", "set", "/app/x", "1"}, 0, "1\n"},
		{"", []string{"--username", "alice:pw2", "set", "/other", "1"}, 4, ""},
		{"", []string{"--username", "root:rootpw", "role", "revoke", "guest", "--path", "/*", "--readwrite"}, 0, "Role guest updated\n"},
		{"", []string{"get", "/app/x"}, 4, ""},
		{"", []string{"--username", "alice:wrong", "get", "/app/x"}, 4, ""},
	}
	for i, s := range steps {
		got := etcdctlIn(t, ep, s.stdin, s.args...)
		if got.rc != s.rc || (s.out != "" && got.stdout != s.out) {
			t.Fatalf("step %d: etcdctl %v: %v, want rc=%d stdout=%q", i, s.args, got, s.rc, s.out)
		}
		if s.rc == 4 && !strings.Contains(got.stderr, "110: The request requires user authentication (Insufficient credentials)") {
			t.Fatalf("step %d: etcdctl %v: refusal %q", i, s.args, got.stderr)
		}
	}

	// The same through go.etcd.io/etcd/client/v2's auth APIs, with every member as endpoint.
	root, err := client.New(client.Config{Endpoints: c.ClientURLs(), Username: "root", Password: "rootpw",
		HeaderTimeoutPerRequest: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	users, roles := client.NewAuthUserAPI(root), client.NewAuthRoleAPI(root)
	if err := roles.AddRole(ctx(t), "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := roles.GrantRoleKV(ctx(t), "ops", []string{"/ops/*"}, client.ReadWritePermission); err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(ctx(t), "bob", "bobpw"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.GrantUser(ctx(t), "bob", []string{"ops"}); err != nil {
		t.Fatal(err)
	}
	// client/v2 decodes the answer twice and keeps an empty role from its first try, with
	// etcd as with Cairn; what counts is that ops is there.
	u, err := users.GetUser(ctx(t), "bob")
	if err != nil || !slices.Contains(u.Roles, "ops") {
		t.Fatalf("GetUser bob: %+v %v", u, err)
	}
	if err := roles.AddRole(ctx(t), "ops"); err == nil || !strings.Contains(err.Error(), "auth: Role ops already exists.") {
		t.Fatalf("adding ops twice: %v", err)
	}
	bob := keysAs(t, c.ClientURLs(), "bob", "bobpw")
	if _, err := bob.Set(ctx(t), "/ops/a", "1", nil); err != nil {
		t.Fatalf("bob writes under /ops: %v", err)
	}
	_, err = bob.Set(ctx(t), "/app/a", "1", nil)
	var ce client.Error
	if !errors.As(err, &ce) || ce.Code != 110 {
		t.Fatalf("bob writes under /app: %v, want code 110", err)
	}

	// Every member dies at once; what auth holds comes back from the disks.
	for _, n := range c.Nodes {
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.Launch(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.WaitHealthy(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		args []string
		rc   int
		out  string
	}{
		{[]string{"--username", "root:rootpw", "user", "list"}, 0, "alice\nbob\nroot\n"},
		{[]string{"--username", "root:rootpw", "role", "list"}, 0, "app\nguest\nops\nroot\n"},
		{[]string{"--username", "root:rootpw", "user", "get", "alice"}, 0, "User: alice\nRoles:  app\n"},
		{[]string{"--username", "alice:pw2", "get", "/app/x"}, 0, "1\n"},
		{[]string{"get", "/app/x"}, 4, ""},
		{[]string{"--username", "bob:bobpw", "get", "/ops/a"}, 0, "1\n"},
		{[]string{"--username", "bob:bobpw", "get", "/app/x"}, 4, ""},
		{[]string{"user", "list"}, 1, ""},
	} {
		got := etcdctl(t, all, s.args...)
		if got.rc != s.rc || (s.out != "" && got.stdout != s.out) {
			t.Fatalf("after the crash: etcdctl %v: %v, want rc=%d stdout=%q", s.args, got, s.rc, s.out)
		}
	}
	// Password changes and removals still work after the restart, and take effect at once.
	if got := etcdctlIn(t, ep, "pw3\n", "--username", "root:rootpw", "user", "passwd", "alice"); got.rc != 0 {
		t.Fatalf("passwd: %v", got)
	}
	if got := etcdctl(t, all, "--username", "alice:pw2", "get", "/app/x"); got.rc != 4 {
		t.Fatalf("old password after passwd: %v", got)
	}
	if got := etcdctl(t, all, "--username", "alice:pw3", "get", "/app/x"); got.rc != 0 {
		t.Fatalf("new password: %v", got)
	}
	for _, args := range [][]string{{"user", "remove", "alice"}, {"role", "remove", "app"}, {"auth", "disable"}} {
		if got := etcdctl(t, ep, append([]string{"--username", "root:rootpw"}, args...)...); got.rc != 0 {
			t.Fatalf("etcdctl %v: %v", args, got)
		}
	}
	if got := etcdctl(t, all, "user", "list"); got.rc != 0 || got.stdout != "bob\nroot\n" {
		t.Fatalf("after removals, auth off: %v", got)
	}
}

func keysAs(t *testing.T, endpoints []string, user, password string) client.KeysAPI {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: endpoints, Username: user, Password: password,
		HeaderTimeoutPerRequest: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return client.NewKeysAPI(c)
}
