package client_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// Update and Promote work by name, like Get and Remove.
func TestMembersUpdateAndPromoteByName(t *testing.T) {
	c := rackCluster(t, 3)
	// By name needs the names: every member has published its own.
	c.WaitPublished(t, 0)
	cl := connect(t, client.NewClusterDefinition(hostOf(t, c.Members[0]).Name, hostOf(t, c.Members[0]).Port).WithSystemSettings(fast))
	ms := cl.Members()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := ms.Update(ctx, "nobody", []string{"http://127.0.0.1:1"}); err == nil {
		t.Fatal("updated a member that does not exist")
	}
	n3 := c.Members[2]
	extra := "http://127.0.0.1:1"
	if err := ms.Update(ctx, n3.Name, []string{n3.PeerURL, extra}); err != nil {
		t.Fatal(err)
	}
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		list, err := c.MemberList(0)
		if err != nil {
			return err
		}
		for _, m := range list {
			if m.Name == n3.Name && slices.Contains(m.PeerURLs, extra) {
				return nil
			}
		}
		return fmt.Errorf("%s's peer URLs not updated: %+v", n3.Name, list)
	})

	l := c.AddMember(t, 0, true)
	testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		return ms.Promote(ctx, l.Name)
	})
	// The client may have sent the promotion to another member than the one listed here, which
	// applies it a moment later.
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		list, err := c.MemberList(0)
		if err != nil {
			return err
		}
		for _, m := range list {
			if m.Name == l.Name && !m.IsLearner {
				return nil
			}
		}
		return fmt.Errorf("%s is still a learner (or missing) after Promote: %+v", l.Name, list)
	})
}
