package node_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/test/ports"
)

// A node bootstrapped with another --initial-cluster-token computes another cluster id and must
// be refused with an error that says so, not join or disturb the running cluster.
func TestTokenMismatchIsRefused(t *testing.T) {
	var initial string
	var last *testcluster.Member
	c := testcluster.New(t, 3)
	for _, m := range c.Members {
		if initial != "" {
			initial += ","
		}
		initial += m.Name + "=" + m.PeerURL
		last = m
	}
	c.Kill(last.Index)
	clientLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerLn, err := ports.Listen(last.PeerURL[len("http://"):], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{
		Name: last.Name, DataDir: t.TempDir(),
		ListenPeerURLs: []string{last.PeerURL}, InitialAdvertisePeerURLs: []string{last.PeerURL},
		InitialCluster: initial, InitialClusterState: "new", InitialClusterToken: "another-token",
		ClientListener: clientLn, PeerListener: peerLn,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	n, err := node.Start(cfg)
	if err == nil {
		n.Kill()
		t.Fatal("a node with another cluster token was allowed to start next to the cluster")
	}
	if !errors.Is(err, server.ErrClusterIDMismatch) {
		t.Fatalf("want a cluster ID mismatch error, got %v", err)
	}
	t.Logf("refused with: %v", err)
}

// A member started with another --cluster-name than the cluster's is refused at join, naming
// both; one started without a name joins as before.
func TestClusterNameMismatchIsRefusedAtJoin(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(i int, cfg *node.Config) {
		if i < 3 {
			cfg.ClusterName = "prod"
		}
	}))
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clientLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerURL := "http://" + peerLn.Addr().String()
	added, err := c.MemberAdd(0, []string{peerURL}, false)
	if err != nil {
		t.Fatal(err)
	}
	initial := "n9=" + peerURL
	for _, m := range c.Members {
		initial += "," + m.Name + "=" + m.PeerURL
	}
	n, err := node.Start(node.Config{
		Name: "n9", DataDir: t.TempDir(), ClusterName: "staging",
		ListenPeerURLs: []string{peerURL}, InitialAdvertisePeerURLs: []string{peerURL},
		InitialCluster: initial, InitialClusterState: "existing", InitialClusterToken: "testcluster",
		ClientListener: clientLn, PeerListener: peerLn, RequestTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		n.Kill()
		t.Fatal("a member with another cluster name joined")
	}
	if !errors.Is(err, node.ErrClusterNameMismatch) || !strings.Contains(err.Error(), `"prod"`) || !strings.Contains(err.Error(), `"staging"`) {
		t.Fatalf("want a cluster name mismatch naming both, got %v", err)
	}
	t.Logf("refused with: %v", err)
	// The refused member stays registered, as after a token mismatch; remove it so that the
	// cluster keeps its quorum, then a member without a name joins.
	if err := c.MemberCall(0, "DELETE", added.ID); err != nil {
		t.Fatalf("removing the refused member: %v", err)
	}
	m := c.AddMember(t, 0, false)
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Put(m.Index, "/joined", "yes")
		return err
	})
}
