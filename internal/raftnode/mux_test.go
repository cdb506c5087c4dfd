package raftnode

import (
	"context"
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

// relayEcho accepts one relay connection on n and echoes what it reads, proving the mux took
// the marker off and handed the rest through untouched.
func relayEcho(t *testing.T, n *tnode) {
	t.Helper()
	ln := n.n.RelayListener()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
}

func checkRelayEcho(t *testing.T, from, to *tnode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := from.n.DialRelay(ctx, to.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte{relayMarker, 'G', 'E', 'T', raftMarker}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("relay echo: %q, %v", got, err)
	}
}

func TestPeerPortCarriesRelay(t *testing.T) {
	c := newCluster(t, []string{"a", "b", "c"}, nil)
	l := c.leader()
	servePeerHTTP(t, l)
	relayEcho(t, l)
	var other *tnode
	for _, n := range c.nodes {
		if n != l {
			other = n
		}
	}
	checkRelayEcho(t, other, l)
	// HTTP and raft are unaffected.
	if got := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+l.addr+"/x"); got != "peer:"+l.id {
		t.Fatalf("peer HTTP answered %q", got)
	}
	idx := put(t, l, "/k", "v")
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "replication", func() bool { return n.f.AppliedIndex() >= idx })
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

	relayEcho(t, l)
	for _, n := range c.nodes {
		if n != l {
			checkRelayEcho(t, n, l) // relay connections are TLS too
			break
		}
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

// A member stopping must not wait out classifyTimeout for a peer that connected and never
// spoke: Close closes such connections.
func TestPeerMuxCloseDropsSilentConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newPeerMux(ln, nil)
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, 5*time.Second, "the silent connection accepted", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.silent) == 1
	})
	closed := make(chan struct{})
	go func() {
		_ = m.Close()
		close(closed)
	}()
	_ = silent.SetReadDeadline(time.Now().Add(classifyTimeout / 2))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the silent peer's connection was not closed by Close: %v", err)
	}
	select {
	case <-closed:
	case <-time.After(classifyTimeout / 2):
		t.Fatal("Close still waits on the silent connection")
	}
}
