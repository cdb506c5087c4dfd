package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func TestPromoteAndRemoveByID(t *testing.T) {
	// A long election timeout: elections on a loaded machine would make every step a retry.
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(2*time.Second))
	// Generous timeouts: membership changes commit through a quorum of a loaded machine.
	settings := client.SystemSettings{TendInterval: 50 * time.Millisecond, Timeout: 3 * time.Second}
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(settings))
	waitNodes(t, cl, "n1", "n2", "n3")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mem := cl.Members()

	c.AddMember(t, 0, true)
	waitNodes(t, cl, "n1", "n2", "n3", "n4")
	n4, err := mem.Get(ctx, "n4")
	if err != nil || n4.Database {
		t.Fatalf("n4 should be a learner: %+v %v", n4, err)
	}
	testcluster.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error { return mem.PromoteID(ctx, n4.ID) })
	testcluster.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		m, err := mem.Get(ctx, "n4")
		if err != nil {
			return err
		}
		for _, r := range m.Roles {
			if r == api.RoleStandby {
				return errors.New("n4 is still a learner")
			}
		}
		if !m.Database {
			return errors.New("n4 is not a voter")
		}
		return nil
	})
	if err := mem.PromoteID(ctx, n4.ID); err == nil {
		t.Fatal("promoting a voter succeeded")
	}

	// A member added but never started has an ID and no name: only RemoveID reaches it. Each
	// step is retried because a loaded machine may lose the leader in between (outcome unknown).
	const ghostURL = "http://127.0.0.1:1"
	ghostID := func() (string, error) {
		ms, err := mem.All(ctx)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			if m.PeerURL == ghostURL {
				return m.ID, nil
			}
		}
		return "", nil
	}
	var ghost string
	testcluster.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		id, err := ghostID()
		if err != nil || id != "" {
			ghost = id
			return err
		}
		if _, err := mem.Add(ctx, []string{ghostURL}, true); err != nil {
			return err
		}
		return errors.New("added, not listed yet")
	})
	testcluster.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if err := mem.RemoveID(ctx, ghost); err != nil && !errors.Is(err, client.ErrMemberNotFound) {
			return err
		}
		if id, err := ghostID(); err != nil || id != "" {
			return fmt.Errorf("still listed: %q %v", id, err)
		}
		return nil
	})
	if err := mem.RemoveID(ctx, ghost); !errors.Is(err, client.ErrMemberNotFound) {
		t.Fatalf("removing again: %v, want ErrMemberNotFound", err)
	}
	if err := mem.PromoteID(ctx, "00000000000000ff"); !errors.Is(err, client.ErrMemberNotFound) {
		t.Fatalf("promoting an unknown id: %v, want ErrMemberNotFound", err)
	}
}
