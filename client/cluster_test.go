package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

var fast = client.SystemSettings{TendInterval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond}

func hostOf(t *testing.T, m *testcluster.Member) client.Host {
	t.Helper()
	u, err := url.Parse(m.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return client.NewHost(u.Hostname(), p)
}

// rackCluster starts n members, member i in rack i+1, named "prod".
func rackCluster(t *testing.T, n int, opts ...testcluster.Option) *testcluster.Cluster {
	opts = append([]testcluster.Option{testcluster.WithElectionTimeout(300 * time.Millisecond),
		testcluster.WithConfig(func(i int, c *node.Config) { c.ClusterName = "prod"; c.RackID = i + 1 })}, opts...)
	return testcluster.New(t, n, opts...)
}

func connect(t *testing.T, d *client.ClusterDefinition) *client.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// waitNodes polls until the client sees exactly the named nodes, all reachable and online.
func waitNodes(t *testing.T, cl *client.Cluster, names ...string) {
	t.Helper()
	testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		ns := cl.Nodes()
		if len(ns) != len(names) {
			return fmt.Errorf("client sees %+v, want %v", ns, names)
		}
		for i, n := range ns {
			if n.Name != names[i] || !n.Reachable || n.Status != api.StatusOnline {
				return fmt.Errorf("node %+v, want %s reachable and online", n, names[i])
			}
		}
		return nil
	})
}

func TestDiscoversEveryMemberFromOneSeed(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[2])).
		ValidateClusterNameIs("prod").WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	leader := c.WaitLeader(t)
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if cl.Leader() != leader.Name {
			return fmt.Errorf("client leader %q, want %q", cl.Leader(), leader.Name)
		}
		return nil
	})
	for _, n := range cl.Nodes() {
		if n.Address != c.Members[n.Rack-1].ClientURL {
			t.Fatalf("%+v: address/rack do not match member %d", n, n.Rack-1)
		}
	}
}

func TestClusterNameMismatchNamesTheNode(t *testing.T) {
	c := rackCluster(t, 1)
	_, err := client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).ValidateClusterNameIs("staging").
		WithSystemSettings(fast).Connect(context.Background())
	if !errors.Is(err, client.ErrClusterNameMismatch) || !errors.Is(err, client.ErrNotConnected) ||
		!strings.Contains(err.Error(), "n1") || !strings.Contains(err.Error(), `"prod"`) {
		t.Fatalf("got %v", err)
	}
}

func TestAlternateAddressesAndIPMap(t *testing.T) {
	// The alternate addresses name a loopback address nothing listens on, so without the map
	// they are refused at once (and no name is ever sent to a resolver).
	const altHost = "127.0.0.2"
	c := rackCluster(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		u, _ := url.Parse(cfg.AdvertiseClientURLs[0])
		cfg.AdvertiseAlternateClientURLs = []string{"http://" + altHost + ":" + u.Port()}
	}))
	ipMap := map[string]string{altHost: "127.0.0.1"}
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		WithIPMap(ipMap).WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	for _, n := range cl.Nodes() {
		if n.Address != c.Members[n.Rack-1].ClientURL {
			t.Fatalf("%+v: want the mapped alternate address %s", n, c.Members[n.Rack-1].ClientURL)
		}
	}
	s := cl.CreateSession(client.DefaultBehavior)
	if _, err := s.Put(context.Background(), "/alt", "ok"); err != nil {
		t.Fatal(err)
	}

	// Every member has published its alternate address by now. Without the map the client
	// must be using the unmapped addresses, and reach none of them.
	bare := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).UsingServicesAlternate().
		FailIfNotConnected(false).WithSystemSettings(fast))
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ns := bare.Nodes()
		if len(ns) != 3 {
			return fmt.Errorf("%+v", ns)
		}
		for _, n := range ns {
			if n.Reachable || !strings.Contains(n.Address, altHost+":") {
				return fmt.Errorf("%+v", n)
			}
		}
		return nil
	})
}

func TestPreferredRackServesReads(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).PreferringRacks(3, 2).
		WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	s := cl.CreateSession(client.DefaultBehavior)
	ctx := context.Background()
	w, err := s.Put(ctx, "/rack", "v")
	if err != nil {
		t.Fatal(err)
	}
	if w.ServedBy != c.WaitLeader(t).Name {
		t.Fatalf("write served by %s, not the leader", w.ServedBy)
	}
	for i := 0; i < 5; i++ {
		r, err := s.Get(ctx, "/rack")
		if err != nil || r.ServedBy != "n3" || r.Node.Value != "v" {
			t.Fatalf("read %+v %v: want n3 (rack 3)", r, err)
		}
	}
	// Rack 3 down: reads fall back to rack 2.
	c.Kill(2)
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		r, err := s.Get(ctx, "/rack")
		if err != nil || r.ServedBy != "n2" {
			return fmt.Errorf("read %+v %v: want n2", r, err)
		}
		return nil
	})
}

func TestLeaderChangeWhileClientsRun(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0]), hostOf(t, c.Members[1])).
		WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	s := cl.CreateSession(client.Behavior{Timeout: 10 * time.Second, MaxRetries: 50, BackoffBase: 20 * time.Millisecond})
	old := c.WaitLeader(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var acked sync.Map
	var fails atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("/lc/%d/%d", w, i)
				if _, err := s.Put(ctx, k, "x"); err == nil {
					acked.Store(k, true)
				} else if ctx.Err() == nil {
					fails.Add(1)
				}
			}
		}()
	}
	time.Sleep(0) // let writers start; the poll below is what waits
	testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		if n < 10 {
			return fmt.Errorf("%d writes so far", n)
		}
		return nil
	})
	c.Kill(old.Index)
	testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if l := cl.Leader(); l == "" || l == old.Name {
			return fmt.Errorf("client leader still %q", l)
		}
		return nil
	})
	before := 0
	acked.Range(func(any, any) bool { before++; return true })
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		if n < before+10 {
			return fmt.Errorf("only %d writes after the change", n-before)
		}
		return nil
	})
	cancel()
	wg.Wait()
	reader := cl.CreateSession(client.DefaultBehavior)
	acked.Range(func(k, _ any) bool {
		if _, err := reader.Get(context.Background(), k.(string)); err != nil {
			t.Errorf("acknowledged %s lost: %v", k, err)
			return false
		}
		return true
	})
	t.Logf("writes failed during the election: %d", fails.Load())
}

func TestTendingSeesAddedAndRemovedMembers(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	c.AddMember(t, 0, false)
	waitNodes(t, cl, "n1", "n2", "n3", "n4")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Members().Remove(ctx, "n4"); err != nil {
		t.Fatal(err)
	}
	c.Kill(3)
	waitNodes(t, cl, "n1", "n2", "n3")
	if err := cl.Members().Remove(ctx, "n4"); !errors.Is(err, client.ErrMemberNotFound) {
		t.Fatalf("removing again: %v", err)
	}
}

func TestPartialClusterConnectsWhenNodesComeUp(t *testing.T) {
	c := rackCluster(t, 3)
	seed := hostOf(t, c.Members[0])
	// Every member has published its address before it goes down.
	waitNodes(t, connect(t, client.NewClusterDefinitionHosts(seed).WithSystemSettings(fast)), "n1", "n2", "n3")
	// Nothing answers: FailIfNotConnected(true) fails, false returns a cluster that waits.
	c.Kill(0)
	c.Kill(1)
	c.Kill(2)
	if _, err := client.NewClusterDefinitionHosts(seed).WithSystemSettings(fast).Connect(context.Background()); !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("want ErrNotConnected, got %v", err)
	}
	cl := connect(t, client.NewClusterDefinitionHosts(seed).FailIfNotConnected(false).WithSystemSettings(fast))
	if ns := cl.Nodes(); len(ns) != 0 {
		t.Fatalf("nodes before any came up: %+v", ns)
	}
	s := cl.CreateSession(client.Behavior{Timeout: 200 * time.Millisecond})
	if _, err := s.Get(context.Background(), "/x"); !errors.Is(err, client.ErrNoNodes) {
		t.Fatalf("want ErrNoNodes, got %v", err)
	}
	c.Restart(0)
	c.Restart(1)
	testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		ns := cl.Nodes()
		if len(ns) != 3 {
			return fmt.Errorf("%+v", ns)
		}
		if !ns[0].Reachable || !ns[1].Reachable || ns[2].Reachable {
			return fmt.Errorf("want n1, n2 reachable and n3 not: %+v", ns)
		}
		return nil
	})
	c.Restart(2)
	waitNodes(t, cl, "n1", "n2", "n3")
}

func TestPoolLimitGivesClearErrorWithoutDeadlock(t *testing.T) {
	c := rackCluster(t, 1)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).
		WithSystemSettings(client.SystemSettings{MaxConnectionsPerNode: 1, TendInterval: 50 * time.Millisecond}))
	waitNodes(t, cl, "n1")
	s := cl.CreateSession(client.Behavior{Timeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	events := s.Watch(ctx, "/pool")
	// The watch holds the only connection; a read must fail at once, naming the limit.
	testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		start := time.Now()
		_, err := s.Get(context.Background(), "/pool")
		if !errors.Is(err, client.ErrPoolExhausted) {
			return fmt.Errorf("want ErrPoolExhausted, got %v", err)
		}
		if !strings.Contains(err.Error(), "MaxConnectionsPerNode") || time.Since(start) > time.Second {
			t.Fatalf("unclear or slow: %v after %v", err, time.Since(start))
		}
		return nil
	})
	cancel()
	for range events {
	}
	testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		_, err := s.Put(context.Background(), "/pool", "free")
		return err
	})
}

func TestEvacuateAndRestoreSteerClients(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).PreferringRacks(2).
		WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := cl.Members()
	if err := mem.Evacuate(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	s := cl.CreateSession(client.DefaultBehavior)
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		m, err := mem.Get(ctx, "n2")
		if err != nil || m.Status != api.StatusEvacuated {
			return fmt.Errorf("%+v %v", m, err)
		}
		r, err := s.Get(ctx, "/", client.WithConsistency(client.Serializable))
		if err != nil || r.ServedBy == "n2" {
			return fmt.Errorf("read served by %+v %v", r, err)
		}
		return nil
	})
	leader := c.WaitLeader(t).Name
	if err := mem.Evacuate(ctx, leader); err != nil {
		t.Fatal(err)
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if l := c.WaitLeader(t).Name; l == leader {
			return fmt.Errorf("%s still leads", l)
		}
		return nil
	})
	for _, name := range []string{"n2", leader} {
		if err := mem.Restore(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	waitNodes(t, cl, "n1", "n2", "n3")
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		r, err := s.Get(ctx, "/")
		if err != nil || r.ServedBy != "n2" {
			return fmt.Errorf("read served by %+v %v, want n2 back", r, err)
		}
		return nil
	})
	if err := mem.Evacuate(ctx, "nobody"); !errors.Is(err, client.ErrMemberNotFound) {
		t.Fatalf("unknown member: %v", err)
	}
	all, err := mem.All(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("%+v %v", all, err)
	}
}
