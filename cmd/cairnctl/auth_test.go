package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// TestCairnctlUsersRolesAuth drives users, roles and auth with etcdctl v2's syntax, then checks
// the effect of each step through another command.
func TestCairnctlUsersRolesAuth(t *testing.T) {
	bin := buildCairnctl(t)
	c := testcluster.New(t, 3)
	c.WaitLeader(t)
	hosts := strings.TrimPrefix(c.Members[1].ClientURL, "http://")
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--hosts", hosts}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	steps := []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"", []string{"user", "add", "root:rootpw"}, 0, "User root created\n"},
		{"alicepw\n", []string{"user", "add", "alice"}, 0, "User alice created\n"},
		{"", []string{"role", "add", "app"}, 0, "Role app created\n"},
		{"", []string{"role", "grant", "app", "--path", "/app/*", "--readwrite"}, 0, "Role app updated\n"},
		{"", []string{"role", "grant", "app", "--path", "/shared", "--read"}, 0, "Role app updated\n"},
		{"", []string{"role", "get", "app"}, 0, "Role: app\nKV Read:\n\t/app/*\n\t/shared\nKV Write:\n\t/app/*\n"},
		{"", []string{"user", "grant", "alice", "--roles", "app"}, 0, "User alice updated\n"},
		{"", []string{"user", "get", "alice"}, 0, "User: alice\nRoles: app\n"},
		{"", []string{"user", "list"}, 0, "alice\nroot\n"},
		{"", []string{"role", "list"}, 0, "app\nroot\n"},
		{"", []string{"role", "grant", "app", "--path", "/x"}, 1, ""},
		{"", []string{"auth", "enable"}, 0, "Authentication Enabled\n"},
		{"", []string{"user", "list"}, 1, ""},
		{"", []string{"--user", "root:rootpw", "role", "revoke", "guest", "--path", "/*", "--readwrite"}, 0, "Role guest updated\n"},
		{"", []string{"--user", "alice:alicepw", "put", "/app/k", "v"}, 0, ""},
		{"alicepw\n", []string{"--user", "alice", "get", "/app/k"}, 0, ""},
		{"", []string{"--user", "alice:alicepw", "put", "/other", "v"}, 1, ""},
		{"", []string{"get", "/app/k"}, 1, ""},
		{"", []string{"--user", "alice:wrong", "get", "/app/k"}, 1, ""},
		{"newpw\n", []string{"--user", "root:rootpw", "user", "passwd", "alice"}, 0, "Password updated\n"},
		{"", []string{"--user", "alice:alicepw", "get", "/app/k"}, 1, ""},
		{"", []string{"--user", "alice:newpw", "get", "/app/k"}, 0, ""},
		{"", []string{"--user", "root:rootpw", "user", "revoke", "alice", "--roles", "app"}, 0, "User alice updated\n"},
		{"", []string{"--user", "alice:newpw", "get", "/app/k"}, 1, ""},
		{"", []string{"--user", "root:rootpw", "user", "remove", "alice"}, 0, "User alice removed\n"},
		{"", []string{"--user", "root:rootpw", "role", "remove", "app"}, 0, "Role app removed\n"},
		{"", []string{"--user", "root:rootpw", "-o", "json", "user", "list"}, 0, ""},
		{"", []string{"--user", "root:rootpw", "auth", "disable"}, 0, "Authentication Disabled\n"},
		{"", []string{"--user", "x:y", "--auth", "external", "get", "/app/k"}, 1, ""},
	}
	for i, s := range steps {
		out, errOut, code := run(s.stdin, s.args...)
		if code != s.code || (s.out != "" && out != s.out) {
			t.Fatalf("step %d: cairnctl %v: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", i, s.args, code, out, errOut, s.code, s.out)
		}
	}
	// -o json lists the users with their roles.
	out, _, _ := run("", "-o", "json", "user", "list")
	var users []struct{ User string }
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 1 || users[0].User != "root" {
		t.Fatalf("json user list %q: %v", out, err)
	}
	// External credentials need TLS, and cairnctl says so.
	if _, errOut, _ := run("", "--user", "x:y", "--auth", "external", "get", "/app/k"); !strings.Contains(errOut, "TLS") {
		t.Fatalf("external over plain HTTP: %q", errOut)
	}
}
