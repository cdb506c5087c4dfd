package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/testcluster"
)

type keyJSON struct {
	Action string
	Node   struct {
		Key   string
		Value string
		Dir   bool
		TTL   int64
		Nodes []struct{ Key string }
	}
}

func parseKey(t *testing.T, out string) keyJSON {
	t.Helper()
	var k keyJSON
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return k
}

// The key commands as an etcdctl user types them: --ttl in seconds, ls one level and -r, mk.
func TestKeysAsEtcdctl(t *testing.T) {
	c := testcluster.New(t, 1)
	ctl := newCtl(t, "--hosts", strings.TrimPrefix(c.Members[0].ClientURL, "http://"), "-o", "json")

	// --ttl 60 is sixty seconds, as etcdctl reads it; a Go duration is read too.
	if k := parseKey(t, ctl.succeed("put", "/ttl/secs", "v", "--ttl", "60")); k.Node.TTL != 60 {
		t.Fatalf("put --ttl 60 gave ttl %d", k.Node.TTL)
	}
	if k := parseKey(t, ctl.succeed("put", "/ttl/dur", "v", "--ttl", "2m")); k.Node.TTL != 120 {
		t.Fatalf("put --ttl 2m gave ttl %d", k.Node.TTL)
	}
	if k := parseKey(t, ctl.succeed("mkdir", "/ttl/dir", "--ttl", "30")); k.Node.TTL != 30 || !k.Node.Dir {
		t.Fatalf("mkdir --ttl 30 gave %+v", k.Node)
	}
	ctl.fail("want seconds (60) or a duration", "put", "/ttl/bad", "v", "--ttl", "soon")
	ctl.fail("negative TTL", "put", "/ttl/bad", "v", "--ttl", "-5s")

	// mk creates only; --in-order makes keys under a directory that sort in creation order.
	if k := parseKey(t, ctl.succeed("mk", "/mk/once", "first", "--ttl", "60")); k.Node.Value != "first" || k.Node.TTL != 60 {
		t.Fatalf("mk gave %+v", k.Node)
	}
	ctl.fail("Key already exists", "mk", "/mk/once", "second")
	var queued []string
	for _, v := range []string{"job1", "job2", "job3"} {
		k := parseKey(t, ctl.succeed("mk", "--in-order", "/queue", v))
		if k.Action != "create" || !strings.HasPrefix(k.Node.Key, "/queue/") || k.Node.Value != v {
			t.Fatalf("mk --in-order gave %+v", k)
		}
		queued = append(queued, k.Node.Key)
	}
	if queued[0] >= queued[1] || queued[1] >= queued[2] {
		t.Fatalf("in-order keys do not sort in creation order: %v", queued)
	}

	// ls lists one level, keys only, as etcdctl does; -r (or --recursive) the subtree.
	table := newCtl(t, ctl.args[:2]...)
	table.succeed("put", "/tree/a/deep/leaf", "1")
	table.succeed("put", "/tree/b", "2")
	if got := table.succeed("ls", "/tree"); got != "/tree/a\n/tree/b\n" {
		t.Fatalf("ls /tree printed %q", got)
	}
	want := "/tree/a\n/tree/a/deep\n/tree/a/deep/leaf\n/tree/b\n"
	for _, flag := range []string{"-r", "--recursive"} {
		if got := table.succeed("ls", flag, "/tree"); got != want {
			t.Fatalf("ls %s /tree printed %q, want %q", flag, got, want)
		}
	}
	if got := table.succeed("ls", "-p", "/tree"); got != "/tree/a/\n/tree/b\n" {
		t.Fatalf("ls -p printed %q", got)
	}
	if got := table.succeed("ls", "/tree/b"); got != "/tree/b\n" {
		t.Fatalf("ls of a key printed %q", got)
	}
	if k := parseKey(t, ctl.succeed("ls", "/tree")); len(k.Node.Nodes) != 2 {
		t.Fatalf("ls -o json: %+v", k.Node)
	}
	table.fail("Key not found", "ls", "/nowhere")
}
