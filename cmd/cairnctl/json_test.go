package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/spf13/cobra"
)

// jsonDocs decodes out as one or more JSON documents and nothing else.
func jsonDocs(out string) ([]map[string]any, error) {
	var docs []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case map[string]any:
			docs = append(docs, x)
		case []any:
			docs = append(docs, map[string]any{"list": x})
		default:
			return nil, fmt.Errorf("JSON %T, want an object or a list", v)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no JSON at all")
	}
	return docs, nil
}

// leafCommands are the paths of every command that does something, without the ones that
// print no data by design (help, cobra's shell completion scripts, the hidden gen-docs).
func leafCommands(root *cobra.Command) []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() {
				out = append(out, strings.TrimPrefix(sub.CommandPath(), root.Name()+" "))
			}
			walk(sub)
		}
	}
	root.InitDefaultCompletionCmd()
	walk(root)
	return out
}

// Every command prints JSON with -o json, and the membership commands change the membership
// as another client (plain HTTP to another member) sees it.
func TestJSONOutputOfEveryCommand(t *testing.T) {
	key := []byte("cairnctl-json-key")
	c := testcluster.New(t, 3, testcluster.WithQuorum(key))
	keyFile := filepath.Join(t.TempDir(), "quorum.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	hosts := strings.TrimPrefix(c.Members[0].ClientURL, "http://")
	ctl := newCtl(t, "--hosts", hosts, "-o", "json")
	covered := map[string]bool{}
	// js runs a command until it succeeds (retry only what is idempotent), checks that what it
	// printed is JSON, and returns the first document.
	js := func(retry bool, args ...string) map[string]any {
		t.Helper()
		var out string
		if retry {
			out = ctl.succeed(args...)
		} else {
			o, errOut, code := ctl.run(args...)
			if code != 0 {
				t.Fatalf("cairnctl %v: exit %d: %s", args, code, errOut)
			}
			out = o
		}
		docs, err := jsonDocs(out)
		if err != nil {
			t.Fatalf("cairnctl -o json %v printed what is not JSON (%v):\n%s", args, err, out)
		}
		root := newRootCommand()
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		covered[strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")] = true
		return docs[0]
	}

	js(false, "version")
	js(true, "health")
	js(true, "cluster", "info")
	put := js(true, "put", "/j/k", "v")
	index := strconv.FormatFloat(put["node"].(map[string]any)["modifiedIndex"].(float64), 'f', -1, 64)
	js(true, "get", "/j/k")
	js(false, "mk", "/j/new", "v")
	js(false, "mkdir", "/j/dir")
	js(true, "ls", "/j")
	js(true, "ls", "-r", "/j")
	if ev := js(true, "watch", "/j/k", "--index", index, "--count", "1"); ev["action"] != "set" {
		t.Fatalf("watch -o json: %v", ev)
	}
	js(false, "rm", "/j/k")
	js(false, "rm", "/j/dir", "--dir")

	js(true, "member", "list")
	if m := js(true, "member", "get", "n1"); m["ServerName"] != "n1" {
		t.Fatalf("member get n1: %v", m)
	}
	if r := js(false, "member", "evacuate", "n2"); r["result"] != "member n2 evacuated" || r["member"] != "n2" {
		t.Fatalf("member evacuate: %v", r)
	}
	js(false, "member", "restore", "n2")

	// update: n3 gets a second peer URL (the first, which raft uses, stays), seen by another client.
	n3 := c.Members[2]
	extra := "http://127.0.0.1:1"
	js(false, "member", "update", "n3", n3.PeerURL+","+extra)
	peerURLsOf := func(via int, name string) ([]string, bool, error) {
		ms, err := c.MemberList(via)
		if err != nil {
			return nil, false, err
		}
		for _, m := range ms {
			if m.Name == name {
				return m.PeerURLs, m.IsLearner, nil
			}
		}
		return nil, false, fmt.Errorf("%s not listed by member %d: %+v", name, via, ms)
	}
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		urls, _, err := peerURLsOf(1, "n3")
		if err == nil && !slices.Equal(urls, []string{n3.PeerURL, extra}) {
			err = fmt.Errorf("n3's peer URLs %v", urls)
		}
		return err
	})

	// add: a learner that is never started, removed again by id.
	added := js(false, "member", "add", "http://127.0.0.1:2", "--learner")
	if err := c.MemberCall(1, "DELETE", added["ID"].(string)); err != nil {
		t.Fatal(err)
	}

	// promote: a real learner, once it has caught up; then remove it.
	n4 := c.AddMember(t, 0, true)
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, learner, err := peerURLsOf(2, n4.Name)
		if err == nil && !learner {
			err = fmt.Errorf("%s joined as a voter", n4.Name)
		}
		return err
	})
	js(true, "member", "promote", n4.Name)
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, learner, err := peerURLsOf(2, n4.Name)
		if err == nil && learner {
			err = fmt.Errorf("%s is still a learner", n4.Name)
		}
		return err
	})
	if r := js(false, "member", "remove", n4.Name); r["result"] != "member "+n4.Name+" removed" {
		t.Fatalf("member remove: %v", r)
	}
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, _, err := peerURLsOf(1, n4.Name); err == nil {
			return fmt.Errorf("%s still listed", n4.Name)
		}
		return nil
	})
	c.Kill(3)

	for _, q := range [][]string{{"ping"}, {"get", "/j/new"}, {"leader"}, {"members"}} {
		js(true, append(append([]string{"quorum"}, q...), "--quorum-hmac-key-file", keyFile)...)
	}

	snap := filepath.Join(t.TempDir(), "backup.snap")
	js(true, "snapshot", "save", snap)
	js(false, "snapshot", "status", snap)
	js(false, "snapshot", "restore", snap, "--data-dir", filepath.Join(t.TempDir(), "restored"), "--name", "r1",
		"--initial-cluster", "r1=http://127.0.0.1:3", "--initial-advertise-peer-urls", "http://127.0.0.1:3")

	js(false, "role", "add", "reader")
	js(false, "role", "grant", "reader", "--path", "/j/*", "--read")
	js(false, "role", "get", "reader")
	js(false, "role", "list")
	js(false, "role", "revoke", "reader", "--path", "/j/*", "--read")
	js(false, "user", "add", "root:rootpw")
	js(false, "user", "add", "alice:pw")
	js(false, "user", "grant", "alice", "--roles", "reader")
	js(false, "user", "get", "alice")
	js(false, "user", "list")
	js(false, "user", "revoke", "alice", "--roles", "reader")
	in := ctl
	in.stdin = "newpw\n"
	if out, errOut, code := in.run("user", "passwd", "alice"); code != 0 {
		t.Fatalf("user passwd: exit %d: %s", code, errOut)
	} else if _, err := jsonDocs(out); err != nil {
		t.Fatalf("user passwd -o json: %v\n%s", err, out)
	}
	covered["user passwd"] = true
	js(false, "user", "remove", "alice")
	js(false, "role", "remove", "reader")
	js(false, "auth", "enable")
	// Now only root may turn it off; the credentials come from CAIRNCTL_USER.
	if _, _, code := ctl.run("auth", "disable"); code == 0 {
		t.Fatal("auth disable without credentials succeeded")
	}
	ctl = ctl.with("CAIRNCTL_USER=root:rootpw")
	js(true, "auth", "disable")

	for _, cmd := range leafCommands(newRootCommand()) {
		if !covered[cmd] {
			t.Errorf("cairnctl %s -o json is not checked here", cmd)
		}
	}
}
