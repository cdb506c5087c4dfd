package node_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// After losing the majority for good, --force-new-cluster turns one survivor's data into a
// one-member cluster that serves every acknowledged write and takes new ones.
func TestForceNewClusterFromOneSurvivor(t *testing.T) {
	c := testcluster.New(t, 3)
	for i := 0; i < 30; i++ {
		if _, err := c.Put(i%3, fmt.Sprintf("/dr/%d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	last, err := c.Put(0, "/dr/last", "x")
	if err != nil {
		t.Fatal(err)
	}
	// Wait until member 2 has the last write, then lose everyone.
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := c.Get(2, "/dr/last", url.Values{"consistency": {"serializable"}})
		return err
	})
	for i := range c.Members {
		c.Kill(i)
	}
	c.RestartWith(2, func(cfg *node.Config) { cfg.ForceNewCluster = true })
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if !c.Members[2].IsLeader() {
			return fmt.Errorf("survivor does not lead alone")
		}
		return nil
	})
	ms, err := c.MemberList(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Name != c.Members[2].Name {
		t.Fatalf("members after recovery: %+v", ms)
	}
	r, err := c.Get(2, "/dr", url.Values{"recursive": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Node.Nodes) != 31 {
		t.Fatalf("recovered %d keys, want 31", len(r.Node.Nodes))
	}
	w, err := c.Put(2, "/dr/after", "y")
	if err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if w.Node.ModifiedIndex <= last.Node.ModifiedIndex {
		t.Fatalf("store index went back: %d after %d", w.Node.ModifiedIndex, last.Node.ModifiedIndex)
	}
}
