package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/raftnode"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// viewCluster starts three members in racks 1-3 with alternate URLs, and returns once every
// member has published its attributes and the leader sees all of them online.
func viewCluster(t *testing.T) *testcluster.Cluster {
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(300*time.Millisecond),
		testcluster.WithConfig(func(i int, c *node.Config) {
			c.ClusterName = "prod"
			c.RackID = i + 1
			c.AdvertiseAlternateClientURLs = []string{fmt.Sprintf("http://alt-%d.example:2379", i+1)}
		}))
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms := c.WaitLeader(t).Node().Server().ClusterMembers(context.Background())
		for _, m := range ms.Members {
			if m.Status != api.StatusOnline {
				return fmt.Errorf("%s is %s: %s", m.ServerName, m.Status, m.Message)
			}
		}
		return nil
	})
	return c
}

func memberByName(ms api.ClusterMembers, name string) (api.ClusterMember, bool) {
	for _, m := range ms.Members {
		if m.ServerName == name {
			return m, true
		}
	}
	return api.ClusterMember{}, false
}

func TestClusterViewPublishesRackAndAlternateURLs(t *testing.T) {
	c := viewCluster(t)
	leader := c.WaitLeader(t)
	f := c.Followers()[0]
	ctx := context.Background()
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms := f.Node().Server().ClusterMembers(ctx)
		if len(ms.Members) != 3 {
			return fmt.Errorf("%d members", len(ms.Members))
		}
		for i, cm := range c.Members {
			m, ok := memberByName(ms, cm.Name)
			if !ok {
				return fmt.Errorf("%s missing", cm.Name)
			}
			want := api.ClusterMember{ServerName: cm.Name, URL: cm.ClientURL, PeerURL: cm.PeerURL,
				AlternateURL: fmt.Sprintf("http://alt-%d.example:2379", i+1), FailureDomain: i + 1,
				Database: true, Status: api.StatusOnline}
			if m.ServerName != want.ServerName || m.URL != want.URL || m.PeerURL != want.PeerURL ||
				m.AlternateURL != want.AlternateURL || m.FailureDomain != want.FailureDomain ||
				!m.Database || m.Status != want.Status {
				return fmt.Errorf("member %+v, want %+v", m, want)
			}
			if m.AppliedIndex == 0 {
				return fmt.Errorf("%s: no applied index", m.ServerName)
			}
			leads := cm.Name == leader.Name
			if got := len(m.Roles) == 2 && m.Roles[0] == api.RoleLeader; got != leads {
				return fmt.Errorf("%s roles %v", m.ServerName, m.Roles)
			}
		}
		return nil
	})
	info := f.Node().Server().ClusterInfo(ctx)
	if info.ServerName != f.Name || info.ClusterName != "prod" || info.Leader != leader.Name || !info.Enabled {
		t.Fatalf("cluster info %+v", info)
	}
	if lg := leader.Node().Server().ClusterInfo(ctx).Generation; lg != info.Generation {
		t.Fatalf("leader generation %d, follower %d: same view must give the same generation", lg, info.Generation)
	}
}

func TestKilledMemberGoesOfflineAndGenerationMoves(t *testing.T) {
	c := viewCluster(t)
	leader := c.WaitLeader(t)
	victim := c.Followers()[0]
	other := c.Followers()[1]
	ctx := context.Background()
	var before uint64
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms := other.Node().Server().ClusterMembers(ctx)
		for _, m := range ms.Members {
			if m.Status != api.StatusOnline {
				return fmt.Errorf("%s is %s", m.ServerName, m.Status)
			}
		}
		before = ms.Generation
		return nil
	})
	c.Kill(victim.Index)
	// The follower learns it from the leader: it cannot see the victim's silence itself.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms := other.Node().Server().ClusterMembers(ctx)
		m, ok := memberByName(ms, victim.Name)
		if !ok {
			return fmt.Errorf("%s missing from %+v", victim.Name, ms.Members)
		}
		if m.Status != api.StatusOffline {
			return fmt.Errorf("%s is %s (%s)", m.ServerName, m.Status, m.Message)
		}
		if ms.Generation == before {
			return errors.New("generation did not change")
		}
		return nil
	})
	c.Restart(victim.Index)
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		m, err := leader.Node().Server().ClusterMember(ctx, victim.Name)
		if err != nil || m.Status != api.StatusOnline {
			return fmt.Errorf("%+v %v", m, err)
		}
		return nil
	})
}

func TestIsolatedFollowerReportsItselfBlocked(t *testing.T) {
	c := viewCluster(t)
	f := c.Followers()[0]
	c.Isolate(f.Index)
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		m, err := f.Node().Server().ClusterMember(context.Background(), f.Name)
		if err != nil || m.Status != api.StatusBlocked {
			return fmt.Errorf("%+v %v", m, err)
		}
		return nil
	})
}

func TestEvacuateLeaderMovesLeadershipAndRestore(t *testing.T) {
	c := viewCluster(t)
	leader := c.WaitLeader(t)
	// Each step gets its own context: one context for the whole test ran out under load while
	// the polls below still had time, and a member asked with a spent context cannot reach the
	// leader, so it reports every member's status as unknown until the poll gives up.
	step := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	if err := leader.Node().Server().SetMemberState(step(), "nobody", api.ActionEvacuate); !errors.Is(err, server.ErrMemberNotFound) {
		t.Fatalf("unknown member: %v", err)
	}
	if err := leader.Node().Server().SetMemberState(step(), leader.Name, "explode"); !errors.Is(err, server.ErrInvalidAction) {
		t.Fatalf("bad action: %v", err)
	}
	if err := leader.Node().Server().SetMemberState(step(), leader.Name, api.ActionEvacuate); err != nil {
		t.Fatal(err)
	}
	if leader.IsLeader() {
		t.Fatal("evacuated leader still leads")
	}
	nl := c.WaitLeader(t)
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		m, err := nl.Node().Server().ClusterMember(step(), leader.Name)
		if err != nil || m.Status != api.StatusEvacuated {
			return fmt.Errorf("%+v %v", m, err)
		}
		return nil
	})
	if err := leader.Node().Server().SetMemberState(step(), leader.Name, api.ActionRestore); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Fatal("a follower accepted a state change")
	}
	if err := nl.Node().Server().SetMemberState(step(), leader.Name, api.ActionRestore); err != nil {
		t.Fatal(err)
	}
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		m, err := leader.Node().Server().ClusterMember(step(), leader.Name)
		if err != nil || m.Status != api.StatusOnline {
			return fmt.Errorf("%+v %v", m, err)
		}
		return nil
	})
}

func TestEvacuatingTheOnlyVoterIsRefused(t *testing.T) {
	c := testcluster.New(t, 1)
	n := c.WaitLeader(t)
	err := n.Node().Server().SetMemberState(context.Background(), n.Name, api.ActionEvacuate)
	if !errors.Is(err, server.ErrUnhealthy) {
		t.Fatalf("got %v", err)
	}
	m, err := n.Node().Server().ClusterMember(context.Background(), n.Name)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status == api.StatusEvacuated {
		t.Fatal("refused evacuation still marked the member")
	}
}
