package raftnode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

func servePeerHTTP(t *testing.T, n *tnode) *http.Server {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "peer:"+n.id)
	})}
	go func() { _ = srv.Serve(n.n.PeerHTTPListener()) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPeerPortCarriesRaftAndHTTP(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	srv := servePeerHTTP(t, l)
	client := &http.Client{Timeout: 5 * time.Second}

	// A client that connects and says nothing must not hold up others.
	silent, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	if got := get(t, client, "http://"+l.addr+"/x"); got != "peer:"+l.id {
		t.Fatalf("peer HTTP answered %q", got)
	}
	put(t, l, "/k", "v") // raft still flows through the same port

	// Closing the HTTP side leaves raft untouched.
	_ = srv.Close()
	idx := put(t, l, "/k2", "v")
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "replication after closing peer HTTP", func() bool { return n.f.AppliedIndex() >= idx })
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cairn-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestPeerTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	peerTLS := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	c := newCluster(t, []string{"a", "b", "c"}, func(cfg *Config) { cfg.TLS = peerTLS })
	l := c.leader()
	idx := put(t, l, "/k", "over tls")
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "replication over TLS", func() bool { return n.f.AppliedIndex() >= idx })
	}

	servePeerHTTP(t, l)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: peerTLS}}
	if got := get(t, client, "https://"+l.addr+"/x"); got != "peer:"+l.id {
		t.Fatalf("peer HTTPS answered %q", got)
	}
	// Without a client certificate the handshake is refused.
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get("https://" + l.addr + "/x"); err == nil {
		resp.Body.Close()
		t.Fatal("peer HTTPS served a client without a certificate")
	}
	// Plain text is not let through to either side.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + l.addr + "/x"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) == "peer:"+l.id {
			t.Fatal("plain HTTP reached the peer handler on a TLS port")
		}
	}
}
