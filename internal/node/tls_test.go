package node_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// Three members with mutual TLS on the client and the peer port: writes through followers
// (relayed to the leader over TLS), a leader killed and replaced over TLS, and the killed
// member restarted and catching up over TLS.
func TestMutualTLSClusterSurvivesLeaderLoss(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}))
	for _, m := range c.Members {
		if !strings.HasPrefix(m.ClientURL, "https://") || !strings.HasPrefix(m.PeerURL, "https://") {
			t.Fatalf("member %s runs on %s and %s, want https", m.Name, m.ClientURL, m.PeerURL)
		}
	}
	leader := c.WaitLeader(t)
	for i, f := range c.Followers() {
		if _, err := c.Put(f.Index, fmt.Sprintf("/tls/f%d", i), "via-follower"); err != nil {
			t.Fatalf("write through follower %s: %v", f.Name, err)
		}
	}
	c.Kill(leader.Index)
	next := c.WaitLeader(t)
	if next == leader {
		t.Fatalf("killed leader %s still leads", leader.Name)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.Put(next.Index, fmt.Sprintf("/tls/after/%d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("write after leader loss: %v", err)
		}
	}
	c.Restart(leader.Index)
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		r, err := c.Get(leader.Index, "/tls/after/19", url.Values{"consistency": {"serializable"}})
		if err != nil {
			return err
		}
		if r.Err != nil || r.Node == nil || r.Node.Value != "19" {
			return fmt.Errorf("restarted member answers %s", r.Body)
		}
		return nil
	})
	// A linearizable read on a follower asks the leader for a read index over the TLS relay.
	for _, f := range c.Followers() {
		r, err := c.Get(f.Index, "/tls/after/0", nil)
		if err != nil || r.Err != nil || r.Node.Value != "0" {
			t.Fatalf("linearizable read on %s: %v %+v", f.Name, err, r)
		}
	}
}

// The peer port refuses what is not a member: no certificate, a certificate of another CA,
// plain HTTP; the client port refuses the same on its side.
func TestMutualTLSRefusesStrangers(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}))
	m := c.Members[0]
	other := tlstest.NewCA(t, "another CA").Issue(t, tlstest.Leaf{CN: "app"})
	expired := set.CA.Issue(t, tlstest.Leaf{CN: "app", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	cases := []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no certificate", nil},
		{"another CA", []tls.Certificate{other.TLS(t)}},
		{"expired", []tls.Certificate{expired.TLS(t)}},
	}
	for _, port := range []struct{ name, url, path string }{
		{"client", m.ClientURL, "/v2/keys/"},
		{"peer", m.PeerURL, server.ClusterPath},
	} {
		for _, tc := range cases {
			t.Run(port.name+"/"+tc.name, func(t *testing.T) {
				cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: set.CA.Pool(), Certificates: tc.certs}}}
				resp, err := cl.Get(port.url + port.path)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Fatalf("answered %s: %s", resp.Status, b)
				}
			})
		}
		t.Run(port.name+"/plain HTTP", func(t *testing.T) {
			resp, err := http.Get("http://" + strings.SplitN(port.url, "://", 2)[1] + port.path)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "{") {
				t.Fatalf("plain HTTP got %s: %s", resp.Status, b)
			}
		})
	}
	// With the right certificate both ports answer, so the refusals above are the TLS checks'.
	for _, u := range []string{m.ClientURL + "/v2/keys/", m.PeerURL + server.ClusterPath} {
		resp, err := c.HTTPClient().Get(u)
		if err != nil {
			t.Fatalf("%s with the test client certificate: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", u, resp.Status)
		}
	}
}

// A member refuses to start with an https:// URL it has no certificate for, naming the flag.
func TestHTTPSWithoutCertificateRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  node.Config
		flag string
	}{
		{"client", node.Config{ListenClientURLs: []string{"https://127.0.0.1:0"}}, "--cert-file"},
		{"peer", node.Config{ListenPeerURLs: []string{"https://127.0.0.1:0"}}, "--peer-cert-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.DataDir = t.TempDir()
			_, err := node.Start(cfg)
			if !errors.Is(err, tlsconf.ErrNoCertificate) || !strings.Contains(err.Error(), tc.flag) {
				t.Fatalf("got %v, want ErrNoCertificate naming %s", err, tc.flag)
			}
		})
	}
}

// A member joins a TLS cluster (member add, then --initial-cluster-state existing): the join
// handshake, raft and the relay all run over TLS.
func TestJoinTLSCluster(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}))
	m := c.AddMember(t, 0, false)
	if !strings.HasPrefix(m.PeerURL, "https://") {
		t.Fatalf("joined member on %s", m.PeerURL)
	}
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Put(m.Index, "/joined", "yes")
		return err
	})
	r, err := c.Get(0, "/joined", nil)
	if err != nil || r.Err != nil || r.Node.Value != "yes" {
		t.Fatalf("write through the joined member: %v %+v", err, r)
	}
	// A member change sent to a follower is forwarded to the leader as an HTTP request over
	// the peer port's TLS.
	follower := c.Followers()[0]
	third := c.AddMember(t, follower.Index, false)
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Put(third.Index, "/joined-third", "yes")
		return err
	})
}

// --peer-cert-allowed-cn refuses a peer whose verified certificate carries another common
// name; --client-cert-allowed-hostname refuses a client certificate not valid for the host.
func TestAllowedCNAndHostname(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.PeerTLS.AllowedCN = "cairn-member"
			cfg.ClientTLS.AllowedHostname = "app.example"
		}))
	m := c.Members[0]
	get := func(u string, cert *tlstest.Pair) error {
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: set.CA.Pool(), Certificates: []tls.Certificate{cert.TLS(t)}}}}
		resp, err := cl.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	}
	if err := get(m.PeerURL+server.ClusterPath, set.Member); err != nil {
		t.Fatalf("peer with the allowed CN: %v", err)
	}
	if err := get(m.PeerURL+server.ClusterPath, set.CA.Issue(t, tlstest.Leaf{CN: "intruder"})); err == nil {
		t.Fatal("peer with another CN got through --peer-cert-allowed-cn")
	}
	if err := get(m.ClientURL+"/v2/keys/", set.CA.Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"app.example"}})); err != nil {
		t.Fatalf("client certificate for the allowed hostname: %v", err)
	}
	if err := get(m.ClientURL+"/v2/keys/", set.Client); err == nil {
		t.Fatal("client certificate for another hostname got through --client-cert-allowed-hostname")
	}
}

// Members on --peer-auto-tls each make their own self-signed certificate; they cannot verify
// each other's, yet replicate over TLS (encrypted, not authenticated, as with etcd).
func TestPeerAutoTLSCluster(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Peer: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.PeerTLS, cfg.PeerAutoTLS = tlsconf.Info{}, true
		}))
	for _, f := range c.Followers() {
		if _, err := c.Put(f.Index, "/auto-"+f.Name, "1"); err != nil {
			t.Fatalf("write through %s over peer auto-TLS: %v", f.Name, err)
		}
	}
	m := c.Members[0]
	served, err := serverSerial(hostOf(m.PeerURL), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	made, err := tls.LoadX509KeyPair(filepath.Join(m.DataDir, "fixtures", "peer", "cert.pem"), filepath.Join(m.DataDir, "fixtures", "peer", "key.pem"))
	if err != nil {
		t.Fatalf("no generated peer certificate: %v", err)
	}
	if made.Leaf.SerialNumber.Cmp(served) != 0 {
		t.Fatalf("peer port serves serial %v, generated %v", served, made.Leaf.SerialNumber)
	}
}
