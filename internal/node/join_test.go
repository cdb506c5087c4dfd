package node_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// countingConn counts the writes a joining member makes to the cluster's peer ports: each
// look for itself in the membership is at least one.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// A member started before its `member add` waits for it for --join-timeout, well beyond
// twice --request-timeout (what it waited before), and joins once it is added; with a short
// timeout it gives up, saying what to do.
func TestJoinWaitsForMemberAdd(t *testing.T) {
	c := testcluster.New(t, 1)
	c.WaitLeader(t)
	seed := c.Members[0]

	joiner := func(joinTimeout time.Duration, writes *atomic.Int64) (node.Config, string) {
		clientLn := listenLoopback(t)
		peerLn := listenLoopback(t)
		peerURL := "http://" + peerLn.Addr().String()
		var d net.Dialer
		return node.Config{Name: "late", DataDir: filepath.Join(t.TempDir(), "late"),
			ListenClientURLs: []string{"http://" + clientLn.Addr().String()}, ClientListener: clientLn,
			ListenPeerURLs: []string{peerURL}, InitialAdvertisePeerURLs: []string{peerURL}, PeerListener: peerLn,
			InitialCluster:      seed.Name + "=" + seed.PeerURL + ",late=" + peerURL,
			InitialClusterState: "existing", InitialClusterToken: "testcluster",
			RequestTimeout: 100 * time.Millisecond, JoinTimeout: joinTimeout,
			PeerDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{conn, writes}, nil
			},
		}, peerURL
	}

	var writes atomic.Int64
	cfg, peerURL := joiner(time.Minute, &writes)
	started := make(chan error, 1)
	var n *node.Node
	go func() {
		var err error
		n, err = node.Start(cfg)
		started <- err
	}()
	// Ten looks take two seconds at one every 200 ms: ten times the old limit of 2 x 100 ms.
	testcluster.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-started:
			t.Fatalf("the member stopped waiting before its member add: %v", err)
		default:
		}
		if w := writes.Load(); w < 10 {
			return fmt.Errorf("%d looks for itself so far", w)
		}
		return nil
	})
	if _, err := c.MemberAdd(0, []string{peerURL}, false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("joining after the member add: %v", err)
		}
		t.Cleanup(func() { n.Stop() })
	case <-time.After(30 * time.Second):
		t.Fatal("the member did not join within 30 s of its member add")
	}

	// Never added, with a short wait: it gives up and says how to add it.
	var w2 atomic.Int64
	cfg2, _ := joiner(300*time.Millisecond, &w2)
	cfg2.Name = "never"
	cfg2.InitialCluster = strings.Replace(cfg2.InitialCluster, "late=", "never=", 1)
	if _, err := node.Start(cfg2); err == nil || !strings.Contains(err.Error(), "member add") {
		t.Fatalf("a member never added: %v, want an error naming member add", err)
	}
}
