package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func TestWatchResumesOnAnotherNodeWithoutGaps(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).PreferringRacks(3).
		WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	if c.Members[2].IsLeader() {
		c.Members[2].Node().Raft().TransferLeadership(context.Background())
	}
	w := cl.CreateSession(client.DefaultBehavior)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := w.Watch(ctx, "/resume", client.Recursive())
	put := func(i int) {
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			_, err := w.Put(ctx, fmt.Sprintf("/resume/%03d", i), "v")
			return err
		})
	}
	next := func() client.WatchEvent {
		select {
		case ev := <-events:
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return client.WatchEvent{}
	}
	put(0)
	ev := next()
	if ev.Err != nil || ev.Response.ServedBy != "n3" {
		t.Fatalf("first event %+v: want it from n3 (preferred rack)", ev)
	}
	// The watching node dies; writes go on meanwhile; the watch must resume elsewhere.
	c.Kill(2)
	for i := 1; i <= 5; i++ {
		put(i)
	}
	for i := 1; i <= 5; i++ {
		ev := next()
		if ev.Err != nil {
			t.Fatal(ev.Err)
		}
		if want := fmt.Sprintf("/resume/%03d", i); ev.Response.Node.Key != want || ev.Response.ServedBy == "n3" {
			t.Fatalf("event %d: %s from %s, want %s from a live node", i, ev.Response.Node.Key, ev.Response.ServedBy, want)
		}
	}
}

func TestWatchReportsClearedIndex(t *testing.T) {
	c := rackCluster(t, 1)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast))
	s := cl.CreateSession(client.DefaultBehavior)
	ctx := context.Background()
	first, err := s.Put(ctx, "/hist/start", "x")
	if err != nil {
		t.Fatal(err)
	}
	// Push the first event out of the server's 1000-event history.
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 1010; i += 16 {
				if _, err := s.Put(ctx, fmt.Sprintf("/hist/%d", i), "x"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ev, ok := <-s.Watch(ctx, "/hist", client.Recursive(), client.WaitIndex(first.Node.ModifiedIndex))
	if !ok || !errors.Is(ev.Err, client.ErrEventIndexCleared) {
		t.Fatalf("got %+v (open %v), want ErrEventIndexCleared", ev, ok)
	}
	var ce *client.Error
	if !errors.As(ev.Err, &ce) || ce.Code != 401 || ce.Index == 0 || ce.Cause == "" {
		t.Fatalf("error lacks code, cause or index: %#v", ev.Err)
	}
}

func TestKeyOperationsAndTypedErrors(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[1])).WithSystemSettings(fast))
	s := cl.CreateSession(client.DefaultBehavior)
	ctx := context.Background()
	if _, err := s.Get(ctx, "/nope"); !errors.Is(err, client.ErrKeyNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	r, err := s.Put(ctx, "/k", "v1", client.WithTTL(time.Minute))
	if err != nil || r.Node.TTL == 0 || r.Node.Expiration == nil || r.Index == 0 {
		t.Fatalf("put: %+v %v", r, err)
	}
	if _, err := s.Put(ctx, "/k", "x", client.PrevExist(false)); !errors.Is(err, client.ErrNodeExist) {
		t.Fatalf("create existing: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "/k", "v2", client.PrevValue("wrong")); !errors.Is(err, client.ErrTestFailed) {
		t.Fatalf("cas wrong: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "/k", "v2"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("cas without condition: %v", err)
	}
	r, err = s.CompareAndSwap(ctx, "/k", "v2", client.PrevValue("v1"))
	if err != nil || r.PrevNode.Value != "v1" || r.Node.Value != "v2" {
		t.Fatalf("cas: %+v %v", r, err)
	}
	if r, err = s.Refresh(ctx, "/k", time.Hour); err != nil || r.Node.Value != "v2" || r.Node.TTL < 3000 {
		t.Fatalf("refresh: %+v %v", r, err)
	}
	if _, err := s.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "/d/a", "1"); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, "/d")
	if err != nil || !l.Node.Dir || len(l.Node.Nodes) != 1 || l.Node.Nodes[0].Value != "1" {
		t.Fatalf("list: %+v %v", l, err)
	}
	if _, err := s.Rmdir(ctx, "/d"); !errors.Is(err, client.ErrDirNotEmpty) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	if _, err := s.Rmdir(ctx, "/d", client.Recursive()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndDelete(ctx, "/k", client.PrevIndex(1)); !errors.Is(err, client.ErrTestFailed) {
		t.Fatalf("cad wrong: %v", err)
	}
	if _, err := s.CompareAndDelete(ctx, "/k", client.PrevValue("v2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "/k"); !errors.Is(err, client.ErrKeyNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := s.Put(ctx, "/bad//key", "x"); !errors.Is(err, client.ErrInvalidField) {
		t.Fatalf("bad key: %v", err)
	}
	v, err := s.Version(ctx)
	if err != nil || v.Server == "" {
		t.Fatalf("version %+v %v", v, err)
	}
	if n, err := s.Health(ctx); err != nil || n == "" {
		t.Fatalf("health %q %v", n, err)
	}
}
