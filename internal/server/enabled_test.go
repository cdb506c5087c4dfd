package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// /v1/cluster's "enabled" follows the answering member: true while it is a member, false while
// it is evacuated and once it has been removed.
func TestClusterEnabledFollowsTheMember(t *testing.T) {
	c := viewCluster(t)
	l := c.WaitLeader(t)
	f := c.Followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	enabled := func(want bool) {
		t.Helper()
		testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			if got := f.Node().Server().ClusterInfo(ctx).Enabled; got != want {
				return fmt.Errorf("%s: enabled %v, want %v", f.Name, got, want)
			}
			return nil
		})
	}
	enabled(true)
	if err := l.Node().Server().SetMemberState(ctx, f.Name, api.ActionEvacuate); err != nil {
		t.Fatal(err)
	}
	enabled(false)
	if err := c.WaitLeader(t).Node().Server().SetMemberState(ctx, f.Name, api.ActionRestore); err != nil {
		t.Fatal(err)
	}
	enabled(true)
	if err := c.WaitLeader(t).Node().Server().RemoveMember(ctx, f.Node().Server().MemberID()); err != nil {
		t.Fatal(err)
	}
	enabled(false)
}
