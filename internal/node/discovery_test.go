package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func srvConfig(name, domain, srvName string, peerLn, clientLn net.Listener, r *net.Resolver, dir string) node.Config {
	peerURL := "http://" + peerLn.Addr().String()
	return node.Config{
		Name: name, DataDir: dir, DiscoverySRV: domain, DiscoverySRVName: srvName, Resolver: r,
		ListenPeerURLs: []string{peerURL}, InitialAdvertisePeerURLs: []string{peerURL},
		ListenClientURLs: []string{"http://" + clientLn.Addr().String()}, InitialClusterToken: "srv",
		PeerListener: peerLn, ClientListener: clientLn, RequestTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Three members bootstrap one cluster from SRV and A records served by a DNS server on loopback,
// under --discovery-srv-name's service names.
func TestDiscoverySRVBootstrapsTheCluster(t *testing.T) {
	d := testcluster.NewDNSServer(t)
	var peers, clients []net.Listener
	for i := 1; i <= 3; i++ {
		p, c := listenLoopback(t), listenLoopback(t)
		peers, clients = append(peers, p), append(clients, c)
		port := p.Addr().(*net.TCPAddr).Port
		d.Add(t, fmt.Sprintf("_etcd-server-blue._tcp.cairn.test. 60 IN SRV 0 0 %d n%d.cairn.test.", port, i))
		d.Add(t, fmt.Sprintf("n%d.cairn.test. 60 IN A 127.0.0.1", i))
	}
	nodes := make([]*node.Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = node.Start(srvConfig(fmt.Sprintf("n%d", i+1), "cairn.test", "blue", peers[i], clients[i], d.Resolver(), t.TempDir()))
		}()
	}
	wg.Wait()
	for i, n := range nodes {
		if n != nil {
			t.Cleanup(func() { _ = n.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("n%d: %v", i+1, errs[i])
		}
	}
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		leaders := 0
		for _, n := range nodes {
			if n.Raft().IsLeader() {
				leaders++
			}
			if got := len(n.Server().Members()); got != 3 {
				return fmt.Errorf("%d members", got)
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d leaders", leaders)
		}
		return nil
	})
}

func TestDiscoverySRVErrors(t *testing.T) {
	d := testcluster.NewDNSServer(t)
	other := listenLoopback(t)
	d.Add(t, fmt.Sprintf("_etcd-server._tcp.others.test. 60 IN SRV 0 0 %d x.others.test.", other.Addr().(*net.TCPAddr).Port))
	d.Add(t, "x.others.test. 60 IN A 127.0.0.1")
	for _, c := range []struct {
		name, domain, srvName string
		want                  []string
	}{
		{"no record", "missing.test", "", []string{"_etcd-server-ssl._tcp.missing.test", "_etcd-server._tcp.missing.test"}},
		{"no record under the service name", "others.test", "green", []string{"_etcd-server-ssl-green._tcp.others.test", "_etcd-server-green._tcp.others.test"}},
		{"this member not among the targets", "others.test", "", []string{"not among the targets", "_etcd-server._tcp.others.test"}},
	} {
		n, err := node.Start(srvConfig("me", c.domain, c.srvName, listenLoopback(t), listenLoopback(t), d.Resolver(), t.TempDir()))
		if err == nil {
			n.Kill()
			t.Fatalf("%s: started", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", c.name, err, w)
			}
		}
	}
	// This member's address listed as an https peer while it advertises http.
	selfLn := listenLoopback(t)
	d.Add(t, fmt.Sprintf("_etcd-server-ssl._tcp.tls.test. 60 IN SRV 0 0 %d me.tls.test.", selfLn.Addr().(*net.TCPAddr).Port))
	d.Add(t, "me.tls.test. 60 IN A 127.0.0.1")
	if n, err := node.Start(srvConfig("me", "tls.test", "", selfLn, listenLoopback(t), d.Resolver(), t.TempDir())); err == nil ||
		!strings.Contains(err.Error(), "_etcd-server-ssl._tcp.tls.test") || !strings.Contains(err.Error(), "as https") {
		if n != nil {
			n.Kill()
		}
		t.Fatalf("scheme mismatch: %v", err)
	}
	cfg := srvConfig("me", "others.test", "", listenLoopback(t), listenLoopback(t), d.Resolver(), t.TempDir())
	cfg.InitialCluster = "me=" + cfg.InitialAdvertisePeerURLs[0]
	if n, err := node.Start(cfg); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		if n != nil {
			n.Kill()
		}
		t.Fatalf("--discovery-srv with --initial-cluster: %v", err)
	}
}
