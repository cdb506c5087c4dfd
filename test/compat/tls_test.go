package compat

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	client "go.etcd.io/etcd/client/v2"

	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	"github.com/cairn-io/cairn/test/procs"
)

// mutualTLS runs every node on https:// client and peer URLs with etcd's flags, requiring a
// certificate of the test CA on both ports.
func mutualTLS(t *testing.T, set *tlstest.Set) *procs.TLS {
	return &procs.TLS{Client: true, Peer: true, ClientConfig: set.ClientConfig(t),
		Args: []string{
			"--cert-file", set.CertFile, "--key-file", set.KeyFile,
			"--trusted-ca-file", set.CAFile, "--client-cert-auth",
			"--peer-cert-file", set.CertFile, "--peer-key-file", set.KeyFile,
			"--peer-trusted-ca-file", set.CAFile, "--peer-client-cert-auth",
		}}
}

func tlsKeysAPI(t *testing.T, cfg *tls.Config, endpoints ...string) client.KeysAPI {
	t.Helper()
	c, err := client.New(client.Config{
		Endpoints:               endpoints,
		Transport:               &http.Transport{TLSClientConfig: cfg},
		HeaderTimeoutPerRequest: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client.NewKeysAPI(c)
}

// Three real members on https:// with mutual TLS on both ports: etcdctl v2 and client/v2 over
// TLS, the leader killed and replaced over TLS, the killed member restarted and catching up
// (the cluster then needs it for a quorum).
func TestTLSClusterWithEtcdctlAndClientV2(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := procs.StartCluster(t, 3, procs.Options{TLS: mutualTLS(t, set)})
	ep := strings.Join(c.ClientURLs(), ",")
	for _, n := range c.Nodes {
		if !strings.HasPrefix(n.ClientURL(), "https://") || !strings.HasPrefix(n.PeerURL(), "https://") {
			t.Fatalf("%s runs on %s and %s", n.Name, n.ClientURL(), n.PeerURL())
		}
	}
	tlsArgs := []string{"--ca-file", set.CAFile, "--cert-file", set.ClientCertFile, "--key-file", set.ClientKeyFile}

	if r := etcdctl(t, ep, append(tlsArgs, "set", "/tls/ctl", "v1")...); r.rc != 0 || r.stdout != "v1\n" {
		t.Fatalf("etcdctl set over TLS: %v", r)
	}
	if r := etcdctl(t, ep, append(tlsArgs, "get", "/tls/ctl")...); r.rc != 0 || r.stdout != "v1\n" {
		t.Fatalf("etcdctl get over TLS: %v", r)
	}
	if r := etcdctl(t, ep, "--ca-file", set.CAFile, "get", "/tls/ctl"); r.rc == 0 || strings.Contains(r.stdout, "v1") {
		t.Fatalf("etcdctl without a client certificate got through: %v", r)
	}

	kapi := tlsKeysAPI(t, set.ClientConfig(t), c.ClientURLs()...)
	if _, err := kapi.Set(ctx(t), "/tls/v2", "a", nil); err != nil {
		t.Fatalf("client/v2 Set over TLS: %v", err)
	}
	if r, err := kapi.Get(ctx(t), "/tls/ctl", nil); err != nil || r.Node.Value != "v1" {
		t.Fatalf("client/v2 Get over TLS: %+v %v", r, err)
	}
	foreign := tlstest.NewCA(t, "another CA").Issue(t, tlstest.Leaf{CN: "app"})
	stranger := tlsKeysAPI(t, &tls.Config{RootCAs: set.CA.Pool(), Certificates: []tls.Certificate{foreign.TLS(t)}}, c.ClientURLs()...)
	if r, err := stranger.Get(ctx(t), "/tls/ctl", nil); err == nil {
		t.Fatalf("a certificate of another CA read %+v", r)
	}

	leader, err := c.WaitLeader(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	next, err := c.WaitLeader(20 * time.Second)
	if err != nil {
		t.Fatalf("no new leader over TLS: %v", err)
	}
	if next == leader {
		t.Fatal("the killed node still leads")
	}
	if _, err := kapi.Set(ctx(t), "/tls/after", "b", nil); err != nil {
		t.Fatalf("write after the leader loss: %v", err)
	}
	if err := leader.Start(); err != nil {
		t.Fatalf("restarting %s: %v", leader.Name, err)
	}
	// With another member down, every commit needs the restarted one: it must have caught up
	// over TLS and take part.
	var other *procs.Node
	for _, n := range c.Followers(next) {
		if n != leader {
			other = n
		}
	}
	if err := other.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a write with the restarted member in the quorum", func() (bool, string) {
		_, err := kapi.Set(ctx(t), "/tls/caught-up", "c", nil)
		return err == nil, errString(err)
	})
	only := tlsKeysAPI(t, set.ClientConfig(t), leader.ClientURL())
	for _, k := range []string{"/tls/v2", "/tls/after", "/tls/caught-up"} {
		if _, err := only.Get(ctx(t), k, nil); err != nil {
			t.Fatalf("restarted member lacks %s: %v", k, err)
		}
	}

	// Plain HTTP to the TLS client port gets no data.
	resp, err := http.Get(strings.Replace(leader.ClientURL(), "https://", "http://", 1) + "/v2/keys/tls/ctl")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "v1") {
			t.Fatalf("plain HTTP on a TLS port got %s: %s", resp.Status, b)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
