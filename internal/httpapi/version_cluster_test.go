package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func cairnCluster(t *testing.T, c *testcluster.Cluster, i int) string {
	t.Helper()
	status, body, err := c.AuthCall(i, http.MethodGet, "/version", "", "", "")
	var v api.Version
	if err != nil || status != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("/version on member %d: %d %s %v", i, status, body, err)
	}
	if v.Server != api.ServerVersion || v.Cluster != api.ClusterVersion || v.Cairn == "" {
		t.Fatalf("/version on member %d: %s", i, body)
	}
	return v.CairnCluster
}

// A member the leader cannot ask for its level counts as a build without auth: auth writes are
// refused before anything is proposed (503, naming the member) and /version shows the baseline
// cluster version, until the member is back. The first auth write then raises the cluster
// version and goes through.
func TestClusterVersionGatesAuth(t *testing.T) {
	// The leader's periodic look is held off, so that only the auth write raises the version.
	c := testcluster.New(t, 3, testcluster.WithConfig(func(_ int, cfg *node.Config) { cfg.VersionCheckInterval = time.Hour }))
	leader := c.WaitLeader(t)
	c.WaitPublished(t, leader.Index)
	down := c.Followers()[0]
	if err := c.Stop(down.Index); err != nil {
		t.Fatal(err)
	}
	baseline, current := fsm.LevelBaseline.String(), fsm.CurrentLevel.String()
	if got := cairnCluster(t, c, leader.Index); got != baseline {
		t.Fatalf("cairncluster %q before any member's level was read, want %q", got, baseline)
	}
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPut, "/v2/auth/users/root", `{"user":"root","password":"pw"}`},
		{http.MethodPut, "/v2/auth/roles/app", `{"role":"app"}`},
		{http.MethodPut, "/v2/auth/enable", ""},
	} {
		status, body, err := c.AuthCall(leader.Index, req.method, req.path, req.body, "", "")
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "cluster version too low") ||
			!strings.Contains(body, down.Name) {
			t.Fatalf("%s %s with %s down: %d %s %v, want 503 naming it", req.method, req.path, down.Name, status, body, err)
		}
	}
	if status, body, _ := c.AuthCall(leader.Index, http.MethodGet, "/v2/auth/users", "", "", ""); status != http.StatusOK || strings.Contains(body, "root") {
		t.Fatalf("users after the refusals: %d %s", status, body)
	}
	if got := cairnCluster(t, c, leader.Index); got != baseline {
		t.Fatalf("cairncluster %q after the refusals, want %q", got, baseline)
	}

	c.Restart(down.Index)
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		status, body, err := c.AuthCall(leader.Index, http.MethodPut, "/v2/auth/users/root", `{"user":"root","password":"pw"}`, "", "")
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("create root with every member up: %d %s %v", status, body, err)
		}
		return nil
	})
	for i := range c.Members {
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if got := cairnCluster(t, c, i); got != current {
				return fmt.Errorf("member %d: cairncluster %q, want %q", i, got, current)
			}
			return nil
		})
	}
}
