package node_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// serverSerial dials addr (host:port) with cfg and returns the serial of the certificate it
// serves; the handshake error otherwise.
func serverSerial(addr string, cfg *tls.Config) (*big.Int, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func hostOf(rawURL string) string { return strings.SplitN(rawURL, "://", 2)[1] }

// Renewed member certificates put in place of the old files (written over for one member,
// renamed over for the others) are served on both ports to new connections, and the
// members go on talking to each other with them, without a restart.
func TestCertificateRotationWithoutRestart(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	// Each member gets files of its own, so the two ways of replacing them are both used.
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			dir := filepath.Join(set.Dir, fmt.Sprintf("m%d", i))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			cert, key := set.Member.Write(t, dir, "member")
			cfg.ClientTLS.CertFile, cfg.ClientTLS.KeyFile = cert, key
			cfg.PeerTLS.CertFile, cfg.PeerTLS.KeyFile = cert, key
		}))
	cli := set.ClientConfig(t)
	for _, m := range c.Members {
		for _, u := range []string{m.ClientURL, m.PeerURL} {
			got, err := serverSerial(hostOf(u), cli)
			if err != nil || got.Cmp(set.Member.Cert.SerialNumber) != 0 {
				t.Fatalf("%s before renewal: %v %v", u, got, err)
			}
		}
	}
	// A connection opened before the renewal keeps working after it.
	old, err := tls.Dial("tcp", hostOf(c.Members[0].ClientURL), cli)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	renewed := make([]*x509.Certificate, len(c.Members))
	for i := range c.Members {
		p := set.CA.Issue(t, tlstest.Leaf{CN: "cairn-member"})
		renewed[i] = p.Cert
		dir := filepath.Join(set.Dir, fmt.Sprintf("m%d", i))
		if i == 0 {
			tlstest.WriteFile(t, filepath.Join(dir, "member.pem"), p.CertPEM)
			tlstest.WriteFile(t, filepath.Join(dir, "member-key.pem"), p.KeyPEM)
		} else {
			tlstest.Replace(t, filepath.Join(dir, "member.pem"), p.CertPEM)
			tlstest.Replace(t, filepath.Join(dir, "member-key.pem"), p.KeyPEM)
		}
	}
	for i, m := range c.Members {
		for _, u := range []string{m.ClientURL, m.PeerURL} {
			got, err := serverSerial(hostOf(u), cli)
			if err != nil {
				t.Fatalf("%s after renewal: %v", u, err)
			}
			if got.Cmp(renewed[i].SerialNumber) != 0 {
				t.Fatalf("%s serves serial %v after renewal, want %v", u, got, renewed[i].SerialNumber)
			}
		}
	}
	if _, err := io.WriteString(old, "GET /v2/keys/ HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(old), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connection opened before the renewal: %v %v", resp, err)
	}
	// Members now dial each other with the renewed certificates: cut every peer connection
	// and make them reconnect, then write.
	c.Partition([]int{0}, []int{1}, []int{2})
	c.Heal()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		leader := c.WaitLeader(t)
		_, err := c.Put(leader.Index, "/rotated", "yes")
		return err
	})
	for _, f := range c.Followers() {
		if _, err := c.Put(f.Index, "/rotated-"+f.Name, "via follower"); err != nil {
			t.Fatalf("write through %s after rotation: %v", f.Name, err)
		}
	}
}

// A member with a revoked certificate cannot reach the others: --peer-crl-file refuses it;
// a client with a revoked certificate gets nothing from the client port (--client-crl-file).
func TestRevokedCertificatesRefused(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	revokedClient := set.CA.Issue(t, tlstest.Leaf{CN: "app", ClientOnly: true})
	crl := filepath.Join(set.Dir, "crl.pem")
	tlstest.WriteFile(t, crl, set.CA.CRL(t, revokedClient.Cert))
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.ClientTLS.CRLFile, cfg.PeerTLS.CRLFile = crl, crl
		}))
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: set.CA.Pool(), Certificates: []tls.Certificate{revokedClient.TLS(t)}}}}
	if resp, err := cl.Get(c.Members[0].ClientURL + "/v2/keys/"); err == nil {
		resp.Body.Close()
		t.Fatalf("revoked client certificate answered %s", resp.Status)
	}
	if _, err := c.Put(0, "/ok", "1"); err != nil {
		t.Fatalf("the good client certificate: %v", err)
	}

	// Revoke the member certificate every member shares: no member can reach another any more,
	// so a write cannot commit. The CRL is re-read by the next handshakes.
	tlstest.Replace(t, crl, set.CA.CRL(t, revokedClient.Cert, set.Member.Cert))
	c.Partition([]int{0}, []int{1}, []int{2})
	c.Heal()
	testcluster.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		for _, m := range c.Members {
			if m.IsLeader() {
				return fmt.Errorf("%s still leads with every peer certificate revoked", m.Name)
			}
		}
		return nil
	})
}

// --auto-tls and --peer-auto-tls serve https:// with certificates made in the data directory.
func TestAutoTLS(t *testing.T) {
	dir := t.TempDir()
	cport, pport := freeAddr(t), freeAddr(t)
	n, err := node.Start(node.Config{Name: "auto", DataDir: dir,
		ListenClientURLs: []string{"https://" + cport}, ListenPeerURLs: []string{"https://" + pport},
		AutoTLS: true, PeerAutoTLS: true, ElectionTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	made, err := tls.LoadX509KeyPair(filepath.Join(dir, "fixtures", "client", "cert.pem"), filepath.Join(dir, "fixtures", "client", "key.pem"))
	if err != nil {
		t.Fatalf("no auto-TLS certificate in the data directory: %v", err)
	}
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		req, _ := http.NewRequest(http.MethodPut, "https://"+cport+"/v2/keys/auto", strings.NewReader("value=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("PUT: %s", resp.Status)
		}
		if s := resp.TLS.PeerCertificates[0].SerialNumber; s.Cmp(made.Leaf.SerialNumber) != 0 {
			return fmt.Errorf("served serial %v, not the generated certificate's", s)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "fixtures", "peer", "cert.pem")); err != nil {
		t.Fatalf("no peer auto-TLS certificate: %v", err)
	}
	if resp, err := http.Get("http://" + cport + "/v2/keys/auto"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "value") {
			t.Fatalf("plain HTTP on an auto-TLS port got %s: %s", resp.Status, b)
		}
	}
}

// --tls-min-version TLS1.3 refuses a client that only speaks TLS 1.2, on both ports.
func TestTLSVersionFlagsHonoured(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true, Peer: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.ClientTLS.MinVersion, cfg.PeerTLS.MinVersion = "TLS1.3", "TLS1.3"
		}))
	for _, u := range []string{c.Members[0].ClientURL, c.Members[0].PeerURL} {
		only12 := set.ClientConfig(t)
		only12.MaxVersion = tls.VersionTLS12
		if _, err := serverSerial(hostOf(u), only12); err == nil {
			t.Errorf("%s: a TLS1.2-only client got through a TLS1.3 minimum", u)
		}
		if _, err := serverSerial(hostOf(u), set.ClientConfig(t)); err != nil {
			t.Errorf("%s: TLS1.3 client: %v", u, err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
