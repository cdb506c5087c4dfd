package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// Faults a faultProxy injects into /v2/keys requests; everything else passes untouched, so
// the tender keeps seeing the member as reachable and only the breaker can route around it.
const (
	passKeys     int32 = iota
	fail5xx            // answer 503 without asking the member
	hangKeys           // answer nothing until the client gives up
	fail5xxWatch       // answer 503 to watches only
)

// faultProxy is a real HTTP proxy in front of one real member.
type faultProxy struct {
	URL  string
	mode atomic.Int32
	// keys counts the /v2/keys requests that reached the proxy.
	keys atomic.Int64
	rp   atomic.Pointer[httputil.ReverseProxy]
	stop chan struct{}
}

func newFaultProxy(t *testing.T) *faultProxy {
	p := &faultProxy{stop: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { close(p.stop); srv.Close() })
	p.URL = srv.URL
	return p
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v2/keys") {
		p.keys.Add(1)
		switch p.mode.Load() {
		case fail5xx:
			http.Error(w, "injected failure", http.StatusServiceUnavailable)
			return
		case fail5xxWatch:
			if r.URL.Query().Get("wait") == "true" {
				http.Error(w, "injected failure", http.StatusServiceUnavailable)
				return
			}
		case hangKeys:
			select {
			case <-r.Context().Done():
			case <-p.stop:
			}
			return
		}
	}
	p.rp.Load().ServeHTTP(w, r)
}

// proxiedCluster starts n members, each advertising its proxy as its alternate client URL:
// a client using the alternate URLs reaches member i only through proxies[i].
func proxiedCluster(t *testing.T, n int) (*testcluster.Cluster, []*faultProxy) {
	ps := make([]*faultProxy, n)
	for i := range ps {
		ps[i] = newFaultProxy(t)
	}
	c := rackCluster(t, n, testcluster.WithConfig(func(i int, cfg *node.Config) {
		u, err := url.Parse(cfg.AdvertiseClientURLs[0])
		if err != nil {
			t.Fatal(err)
		}
		ps[i].rp.Store(httputil.NewSingleHostReverseProxy(u))
		cfg.AdvertiseAlternateClientURLs = []string{ps[i].URL}
	}))
	return c, ps
}

func connectProxied(t *testing.T, c *testcluster.Cluster, s client.SystemSettings, names ...string) *client.Cluster {
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithSystemSettings(s))
	waitNodes(t, cl, names...)
	return cl
}

func withBreaker(max int, window time.Duration) client.SystemSettings {
	s := fast
	s.MaxErrorRate, s.ErrorRateWindow = max, window
	return s
}

func TestBreakerOpensOn5xxAndClosesAfterTheWindow(t *testing.T) {
	const window = 2 * time.Second
	c, ps := proxiedCluster(t, 1)
	cl := connectProxied(t, c, withBreaker(2, window), "n1")
	s := cl.CreateSession(client.Behavior{Timeout: 5 * time.Second})
	ctx := context.Background()
	if _, err := s.Put(ctx, "/breaker/secret-key", "secret-value"); err != nil {
		t.Fatal(err)
	}

	ps[0].mode.Store(fail5xx)
	var lastStart time.Time
	for i := 0; i < 3; i++ {
		lastStart = time.Now()
		_, err := s.Get(ctx, "/breaker/secret-key")
		if err == nil || errors.Is(err, client.ErrCircuitOpen) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("failure %d: got %v, want the 503 answer", i+1, err)
		}
	}
	// Three 5xx answers are more than MaxErrorRate 2: the node is skipped, and as it is the
	// only one, calls fail at once without reaching it.
	sent := ps[0].keys.Load()
	for _, call := range []func() error{
		func() error { _, err := s.Get(ctx, "/breaker/secret-key"); return err },
		func() error { _, err := s.Put(ctx, "/breaker/secret-key", "secret-value"); return err },
	} {
		err := call()
		if !errors.Is(err, client.ErrCircuitOpen) {
			t.Fatalf("after 3 failures: %v, want ErrCircuitOpen", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "n1") || !strings.Contains(msg, ps[0].URL) {
			t.Fatalf("%q does not name the node and its address %s", msg, ps[0].URL)
		}
		if strings.Contains(msg, "secret") {
			t.Fatalf("%q leaks the key or value", msg)
		}
	}
	if got := ps[0].keys.Load(); got != sent {
		t.Fatalf("%d requests reached the node while its breaker was open", got-sent)
	}

	// The node recovers at once, but the breaker stays open for the window, then closes.
	ps[0].mode.Store(passKeys)
	testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		r, err := s.Get(ctx, "/breaker/secret-key")
		if err != nil {
			if !errors.Is(err, client.ErrCircuitOpen) {
				t.Fatalf("while the breaker is open: %v", err)
			}
			return err
		}
		if r.Node.Value != "secret-value" {
			t.Fatalf("%+v", r.Node)
		}
		return nil
	})
	// The breaker opened after lastStart; it may close no earlier than a window later.
	if d := time.Since(lastStart); d < window {
		t.Fatalf("the breaker closed %v after it opened, before the %v window ended", d, window)
	}
}

func TestBreakerDoesNotCountErrorAnswers(t *testing.T) {
	// One counted error would be enough to open the breaker for the rest of the test.
	c, ps := proxiedCluster(t, 1)
	cl := connectProxied(t, c, withBreaker(1, time.Minute), "n1")
	s := cl.CreateSession(client.Behavior{Timeout: 5 * time.Second})
	ctx := context.Background()
	if _, err := s.Put(ctx, "/answers/k", "v"); err != nil {
		t.Fatal(err)
	}
	reached := func(name string, want error, call func() error) {
		t.Helper()
		for i := 0; i < 3; i++ {
			before := ps[0].keys.Load()
			if err := call(); !errors.Is(err, want) {
				t.Fatalf("%s #%d: %v, want %v", name, i+1, err, want)
			}
			if ps[0].keys.Load() == before {
				t.Fatalf("%s #%d did not reach the node", name, i+1)
			}
		}
	}
	reached("get of a missing key", client.ErrKeyNotFound, func() error {
		_, err := s.Get(ctx, "/answers/missing")
		return err
	})
	reached("failed compare", client.ErrTestFailed, func() error {
		_, err := s.CompareAndSwap(ctx, "/answers/k", "w", client.PrevValue("other"))
		return err
	})
	reached("create of an existing key", client.ErrNodeExist, func() error {
		_, err := s.Put(ctx, "/answers/k", "w", client.PrevExist(false))
		return err
	})
	if r, err := s.Get(ctx, "/answers/k"); err != nil || r.Node.Value != "v" {
		t.Fatalf("%+v %v", r, err)
	}

	// A user without a role is refused the key (401) by a node that is otherwise fine.
	c.EnableAuth(t, "rootpw")
	c.AddUser(t, "rootpw", "nobody", "pw")
	refused := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithNativeCredentials("nobody", "pw").WithSystemSettings(withBreaker(1, time.Minute)))
	waitNodes(t, refused, "n1")
	rs := refused.CreateSession(client.Behavior{Timeout: 5 * time.Second})
	reached("read refused to its user", client.ErrUnauthorized, func() error {
		_, err := rs.Get(ctx, "/answers/k")
		return err
	})
}

func TestBreakerCountsTimeoutsButNotCancellations(t *testing.T) {
	c, ps := proxiedCluster(t, 1)
	cl := connectProxied(t, c, withBreaker(1, time.Minute), "n1")
	s := cl.CreateSession(client.Behavior{Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	if _, err := s.Put(ctx, "/slow", "v"); err != nil {
		t.Fatal(err)
	}
	ps[0].mode.Store(hangKeys)

	// Calls the caller gives up on say nothing about the node.
	for i := 0; i < 3; i++ {
		cctx, cancel := context.WithCancel(ctx)
		before := ps[0].keys.Load()
		done := make(chan error, 1)
		go func() { _, err := s.Get(cctx, "/slow"); done <- err }()
		testcluster.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
			if ps[0].keys.Load() == before {
				return errors.New("the read has not reached the node yet")
			}
			return nil
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled read #%d: %v", i+1, err)
		}
	}

	// Timeouts do: two are more than MaxErrorRate 1.
	reachable := func() {
		t.Helper()
		testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if n := cl.Nodes()[0]; !n.Reachable {
				return fmt.Errorf("%+v", n)
			}
			return nil
		})
	}
	for i := 0; i < 2; i++ {
		reachable() // a timeout marks the node unreachable until the tender reaches it again
		if _, err := s.Get(ctx, "/slow"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read #%d of a hanging node: %v, want a timeout", i+1, err)
		}
	}
	reachable()
	before := ps[0].keys.Load()
	if _, err := s.Get(ctx, "/slow"); !errors.Is(err, client.ErrCircuitOpen) {
		t.Fatalf("after two timeouts: %v, want ErrCircuitOpen", err)
	}
	if ps[0].keys.Load() != before {
		t.Fatal("the read reached a node whose breaker is open")
	}
}

func TestBreakerSkipsOpenNodesAndNamesThemAllWhenNoneIsLeft(t *testing.T) {
	c, ps := proxiedCluster(t, 3)
	cl := connectProxied(t, c, withBreaker(1, time.Minute), "n1", "n2", "n3")
	s := cl.CreateSession(client.Behavior{Timeout: 10 * time.Second, MaxRetries: 10, Replica: client.ReplicaAny})
	ctx := context.Background()
	if _, err := s.Put(ctx, "/skip/secret-key", "secret-value"); err != nil {
		t.Fatal(err)
	}
	read := func() {
		t.Helper()
		if r, err := s.Get(ctx, "/skip/secret-key"); err != nil || r.Node.Value != "secret-value" {
			t.Fatalf("%+v %v", r, err)
		}
	}

	// n1 fails; reads retried elsewhere succeed, until n1 has failed twice and is skipped.
	base := ps[0].keys.Load()
	ps[0].mode.Store(fail5xx)
	testcluster.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		read()
		if n := ps[0].keys.Load() - base; n < 2 {
			return fmt.Errorf("n1 failed %d times", n)
		}
		return nil
	})
	skipped, others := ps[0].keys.Load(), ps[1].keys.Load()+ps[2].keys.Load()
	for i := 0; i < 12; i++ {
		read()
	}
	if n := ps[0].keys.Load() - skipped; n != 0 {
		t.Fatalf("%d reads went to n1 while its breaker was open", n)
	}
	if ps[1].keys.Load()+ps[2].keys.Load()-others < 12 {
		t.Fatal("the reads did not go to n2 and n3")
	}

	// Every node fails: once each breaker is open, calls fail naming them all.
	ps[1].mode.Store(fail5xx)
	ps[2].mode.Store(fail5xx)
	var err error
	testcluster.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		_, err = s.Get(ctx, "/skip/secret-key")
		if !errors.Is(err, client.ErrCircuitOpen) {
			return fmt.Errorf("not yet open everywhere: %v", err)
		}
		return nil
	})
	msg := err.Error()
	for i, name := range []string{"n1", "n2", "n3"} {
		if !strings.Contains(msg, name+" at "+ps[i].URL) {
			t.Fatalf("%q does not name %s at %s", msg, name, ps[i].URL)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Fatalf("%q leaks the key or value", msg)
	}
	if _, err := s.Put(ctx, "/skip/secret-key", "secret-value"); !errors.Is(err, client.ErrCircuitOpen) {
		t.Fatalf("write with every breaker open: %v", err)
	}
}

func TestBreakerCountsWatchFailures(t *testing.T) {
	c, ps := proxiedCluster(t, 1)
	cl := connectProxied(t, c, withBreaker(2, time.Minute), "n1")
	s := cl.CreateSession(client.Behavior{Timeout: 5 * time.Second})
	ctx := context.Background()
	if _, err := s.Put(ctx, "/watched", "v"); err != nil {
		t.Fatal(err)
	}
	ps[0].mode.Store(fail5xxWatch)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := s.Watch(wctx, "/watched")
	// Reads still work; once the watch has failed three times the node's breaker is open and
	// they fail too, without reaching it. The watch itself keeps waiting for the breaker.
	testcluster.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		_, err := s.Get(ctx, "/watched")
		if err == nil {
			return errors.New("the breaker is still closed")
		}
		if !errors.Is(err, client.ErrCircuitOpen) {
			t.Fatalf("read: %v", err)
		}
		return nil
	})
	select {
	case ev, ok := <-events:
		t.Fatalf("the watch ended or delivered: %+v %v", ev, ok)
	default:
	}
}
