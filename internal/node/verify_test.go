package node_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
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
