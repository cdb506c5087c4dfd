package compat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	client "go.etcd.io/etcd/client/v2"

	"github.com/cairn-io/cairn/test/procs"
)

func keysAPI(t *testing.T, endpoints ...string) (client.KeysAPI, client.MembersAPI) {
	t.Helper()
	c, err := client.New(client.Config{
		Endpoints:               endpoints,
		Transport:               client.DefaultTransport,
		HeaderTimeoutPerRequest: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client.NewKeysAPI(c), client.NewMembersAPI(c)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantErr checks that err is a client.Error with the code and cause, and
// that its index is the store index of the failed request (nothing applied).
func wantErr(t *testing.T, what string, err error, code int, cause string, index uint64) {
	t.Helper()
	var ce client.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: want client.Error %d, got %v", what, code, err)
		return
	}
	if ce.Code != code || ce.Cause != cause || ce.Index != index {
		t.Errorf("%s: got {%d %q index %d}, want {%d %q index %d}", what, ce.Code, ce.Cause, ce.Index, code, cause, index)
	}
}

func TestClientV2SetGetDelete(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	kapi, _ := keysAPI(t, n.ClientURL())
	c := ctx(t)

	r, err := kapi.Set(c, "/c/a", "1", nil)
	if err != nil || r.Action != "set" || r.Node.Value != "1" || r.PrevNode != nil || r.Index != r.Node.ModifiedIndex ||
		r.Node.CreatedIndex != r.Node.ModifiedIndex {
		t.Fatalf("Set: %+v %v", r, err)
	}
	first := r.Node.ModifiedIndex

	r, err = kapi.Set(c, "/c/a", "2", &client.SetOptions{PrevValue: "1"})
	if err != nil || r.Action != "compareAndSwap" || r.PrevNode == nil || r.PrevNode.Value != "1" || r.Node.CreatedIndex != first {
		t.Fatalf("CAS prevValue: %+v %v", r, err)
	}
	cur := r.Node.ModifiedIndex
	_, err = kapi.Set(c, "/c/a", "x", &client.SetOptions{PrevValue: "nope"})
	wantErr(t, "CAS wrong prevValue", err, client.ErrorCodeTestFailed, "[nope != 2]", cur)
	_, err = kapi.Set(c, "/c/a", "x", &client.SetOptions{PrevIndex: first})
	wantErr(t, "CAS wrong prevIndex", err, client.ErrorCodeTestFailed, fmt.Sprintf("[%d != %d]", first, cur), cur)
	r, err = kapi.Set(c, "/c/a", "3", &client.SetOptions{PrevIndex: cur})
	if err != nil || r.Action != "compareAndSwap" || r.Node.Value != "3" {
		t.Fatalf("CAS prevIndex: %+v %v", r, err)
	}
	cur = r.Node.ModifiedIndex

	_, err = kapi.Set(c, "/c/a", "x", &client.SetOptions{PrevExist: client.PrevNoExist})
	wantErr(t, "prevExist=false on existing", err, client.ErrorCodeNodeExist, "/c/a", cur)
	_, err = kapi.Set(c, "/c/none", "x", &client.SetOptions{PrevExist: client.PrevExist})
	wantErr(t, "prevExist=true on missing", err, client.ErrorCodeKeyNotFound, "/c/none", cur)

	if r, err = kapi.Create(c, "/c/new", "n"); err != nil || r.Action != "create" {
		t.Fatalf("Create: %+v %v", r, err)
	}
	cur = r.Index
	_, err = kapi.Create(c, "/c/new", "n")
	wantErr(t, "Create existing", err, client.ErrorCodeNodeExist, "/c/new", cur)
	if r, err = kapi.Update(c, "/c/new", "n2"); err != nil || r.Action != "update" || r.PrevNode.Value != "n" {
		t.Fatalf("Update: %+v %v", r, err)
	}

	// TTL, then refresh: same value, new TTL, no value allowed.
	before := time.Now()
	r, err = kapi.Set(c, "/c/ttl", "t", &client.SetOptions{TTL: 100 * time.Second})
	if err != nil || r.Node.TTL != 100 || r.Node.Expiration == nil {
		t.Fatalf("Set TTL: %+v %v", r, err)
	}
	if exp := *r.Node.Expiration; exp.Before(before.Add(98*time.Second)) || exp.After(time.Now().Add(102*time.Second)) {
		t.Errorf("expiration %v is not ~100s after %v", exp, before)
	}
	r, err = kapi.Set(c, "/c/ttl", "", &client.SetOptions{TTL: 200 * time.Second, Refresh: true, PrevExist: client.PrevExist})
	if err != nil || r.Action != "update" || r.Node.Value != "t" || r.Node.TTL != 200 {
		t.Fatalf("refresh: %+v %v", r, err)
	}
	_, err = kapi.Set(c, "/c/ttl", "zz", &client.SetOptions{TTL: 200 * time.Second, Refresh: true, PrevExist: client.PrevExist})
	wantErr(t, "refresh with value", err, 211, "A value was provided on a refresh", 0)
	if r, err = kapi.Get(c, "/c/ttl", nil); err != nil || r.Node.Value != "t" || r.Node.TTL < 198 {
		t.Fatalf("after refresh: %+v %v", r, err)
	}

	// NoValueOnSuccess: the write happens, the reply carries no node.
	r, err = kapi.Set(c, "/c/quiet", "big", &client.SetOptions{NoValueOnSuccess: true})
	if err != nil || r.Action != "set" || r.Node != nil {
		t.Fatalf("NoValueOnSuccess: %+v %v", r, err)
	}
	if r, err = kapi.Get(c, "/c/quiet", nil); err != nil || r.Node.Value != "big" {
		t.Fatalf("after NoValueOnSuccess: %+v %v", r, err)
	}

	// Directories: Dir, Recursive, Sorted.
	if r, err = kapi.Set(c, "/c/dir", "", &client.SetOptions{Dir: true}); err != nil || !r.Node.Dir {
		t.Fatalf("Set Dir: %+v %v", r, err)
	}
	for _, k := range []string{"/c/dir/z", "/c/dir/b", "/c/dir/sub/m", "/c/dir/a"} {
		if _, err := kapi.Set(c, k, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	r, err = kapi.Get(c, "/c/dir", &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, nd := range r.Node.Nodes {
		keys = append(keys, nd.Key)
		for _, sub := range nd.Nodes {
			keys = append(keys, sub.Key)
		}
	}
	if got := strings.Join(keys, ","); got != "/c/dir/a,/c/dir/b,/c/dir/sub,/c/dir/sub/m,/c/dir/z" {
		t.Errorf("recursive sorted listing: %s", got)
	}
	r, err = kapi.Get(c, "/c/dir", &client.GetOptions{Quorum: true})
	if err != nil || len(r.Node.Nodes) != 4 {
		t.Fatalf("quorum get dir: %+v %v", r, err)
	}
	for _, nd := range r.Node.Nodes {
		if nd.Key == "/c/dir/sub" && (len(nd.Nodes) != 0 || !nd.Dir) {
			t.Errorf("non-recursive get expanded %+v", nd)
		}
	}

	// Deletes: compare-and-delete, dir, recursive.
	cur = etcdIndex(t, n)
	_, err = kapi.Delete(c, "/c/dir/a", &client.DeleteOptions{PrevValue: "wrong"})
	wantErr(t, "CAD wrong prevValue", err, client.ErrorCodeTestFailed, "[wrong != /c/dir/a]", cur)
	if r, err = kapi.Delete(c, "/c/dir/a", &client.DeleteOptions{PrevValue: "/c/dir/a"}); err != nil || r.Action != "compareAndDelete" {
		t.Fatalf("CAD: %+v %v", r, err)
	}
	_, err = kapi.Delete(c, "/c/dir", &client.DeleteOptions{Dir: true})
	wantErr(t, "delete non-empty dir", err, client.ErrorCodeDirNotEmpty, "/c/dir", r.Index)
	if r, err = kapi.Delete(c, "/c/dir", &client.DeleteOptions{Recursive: true}); err != nil || r.Action != "delete" || !r.PrevNode.Dir {
		t.Fatalf("recursive delete: %+v %v", r, err)
	}
	if _, err = kapi.Get(c, "/c/dir/b", nil); !client.IsKeyNotFound(err) {
		t.Errorf("child after recursive delete: %v", err)
	}
	if r, err = kapi.Delete(c, "/c/a", nil); err != nil || r.Action != "delete" || r.PrevNode.Value != "3" {
		t.Fatalf("delete: %+v %v", r, err)
	}
}

func TestClientV2Watcher(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	kapi, _ := keysAPI(t, n.ClientURL())
	c := ctx(t)
	// AfterIndex 0 means "from now"; a first write keeps start above it.
	if _, err := kapi.Set(c, "/pre", "1", nil); err != nil {
		t.Fatal(err)
	}
	start := etcdIndex(t, n)
	// AfterIndex makes the watcher ask for every event after start, so the
	// writes may happen before the first Next without losing any.
	w := kapi.Watcher("/w", &client.WatcherOptions{AfterIndex: start, Recursive: true})
	if _, err := kapi.Set(c, "/w/a", "1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kapi.Delete(c, "/w/a", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kapi.Set(c, "/w/e", "gone", &client.SetOptions{TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, key, prev string }{
		{"set", "/w/a", ""}, {"delete", "/w/a", "1"}, {"set", "/w/e", ""}, {"expire", "/w/e", "gone"},
	}
	last := start
	for _, ev := range want {
		r, err := w.Next(c)
		if err != nil {
			t.Fatalf("Next (want %s %s): %v", ev.action, ev.key, err)
		}
		if r.Action != ev.action || r.Node.Key != ev.key || (ev.prev != "" && (r.PrevNode == nil || r.PrevNode.Value != ev.prev)) {
			t.Errorf("event: got %s %s prev=%+v, want %+v", r.Action, r.Node.Key, r.PrevNode, ev)
		}
		if r.Node.ModifiedIndex != last+1 {
			t.Errorf("event %s %s at index %d, want %d (every event, in order)", r.Action, r.Node.Key, r.Node.ModifiedIndex, last+1)
		}
		last = r.Node.ModifiedIndex
	}

	// A non-recursive watcher on a key does not see its siblings.
	w = kapi.Watcher("/w/only", &client.WatcherOptions{AfterIndex: last})
	if _, err := kapi.Set(c, "/w/other", "x", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kapi.Set(c, "/w/only", "y", nil); err != nil {
		t.Fatal(err)
	}
	if r, err := w.Next(c); err != nil || r.Node.Key != "/w/only" || r.Node.Value != "y" {
		t.Fatalf("key watcher: %+v %v", r, err)
	}
}

func TestClientV2CreateInOrder(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	kapi, _ := keysAPI(t, n.ClientURL())
	c := ctx(t)
	var created []string
	for _, v := range []string{"job1", "job2", "job3"} {
		r, err := kapi.CreateInOrder(c, "/queue", v, nil)
		if err != nil || r.Action != "create" {
			t.Fatalf("CreateInOrder: %+v %v", r, err)
		}
		if want := fmt.Sprintf("/queue/%020d", r.Node.CreatedIndex); r.Node.Key != want {
			t.Errorf("in-order key %s, want %s", r.Node.Key, want)
		}
		created = append(created, r.Node.Key)
	}
	r, err := kapi.CreateInOrder(c, "/queue", "ttl", &client.CreateInOrderOptions{TTL: 50 * time.Second})
	if err != nil || r.Node.TTL != 50 {
		t.Fatalf("CreateInOrder TTL: %+v %v", r, err)
	}
	created = append(created, r.Node.Key)
	r, err = kapi.Get(c, "/queue", &client.GetOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, nd := range r.Node.Nodes {
		got = append(got, nd.Key)
	}
	if strings.Join(got, ",") != strings.Join(created, ",") {
		t.Errorf("sorted queue %v, want creation order %v", got, created)
	}
}

func TestClientV2Members(t *testing.T) {
	c := procs.StartCluster(t, 3, procs.Options{})
	leader, err := c.WaitLeader(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, mapi := keysAPI(t, c.ClientURLs()...)
	ms, err := mapi.List(ctx(t))
	if err != nil || len(ms) != 3 {
		t.Fatalf("List: %+v %v", ms, err)
	}
	byName := map[string]client.Member{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	for _, node := range c.Nodes {
		m, ok := byName[node.Name]
		if !ok || len(m.PeerURLs) != 1 || m.PeerURLs[0] != node.PeerURL() || len(m.ClientURLs) != 1 || m.ClientURLs[0] != node.ClientURL() || m.ID == "" {
			t.Errorf("member %s: %+v", node.Name, m)
		}
	}
	l, err := mapi.Leader(ctx(t))
	if err != nil || l.Name != leader.Name || l.ID != byName[leader.Name].ID {
		t.Fatalf("Leader: %+v %v, want %s", l, err, leader.Name)
	}
	self, err := leader.Self()
	if err != nil || self.ID != l.ID {
		t.Errorf("leader's /v2/stats/self id %q, members API says %q (%v)", self.ID, l.ID, err)
	}
}
