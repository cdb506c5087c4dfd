package compat

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	"github.com/cairn-io/cairn/test/procs"
)

func servedSerial(t *testing.T, rawURL string, cfg *tls.Config) *big.Int {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.SplitN(rawURL, "://", 2)[1], cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", rawURL, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// A real cairnd serves renewed certificate files to new connections on its client and peer
// ports, without a restart or a signal, whether the files are written over or renamed over;
// it also serves a plain http:// client URL next to the https:// one.
func TestTLSRotationRealProcess(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	plainPort, err := procs.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	plainURL := fmt.Sprintf("http://127.0.0.1:%d", plainPort)
	c := procs.NewCluster(t, 1, procs.Options{TLS: mutualTLS(t, set)})
	n := c.Nodes[0]
	for i, a := range n.Args {
		if a == "--listen-client-urls" {
			n.Args[i+1] += "," + plainURL
		}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cli := set.ClientConfig(t)
	for _, u := range []string{n.ClientURL(), n.PeerURL()} {
		if got := servedSerial(t, u, cli); got.Cmp(set.Member.Cert.SerialNumber) != 0 {
			t.Fatalf("%s serves serial %v before renewal", u, got)
		}
	}
	// The plain listener answers next to the TLS one.
	resp, err := http.Get(plainURL + "/health")
	if err != nil {
		t.Fatalf("plain http:// client URL beside https://: %v", err)
	}
	resp.Body.Close()

	for round, replace := range []func(testing.TB, string, []byte){tlstest.WriteFile, tlstest.Replace} {
		p := set.CA.Issue(t, tlstest.Leaf{CN: "cairn-member"})
		replace(t, set.CertFile, p.CertPEM)
		replace(t, set.KeyFile, p.KeyPEM)
		for _, u := range []string{n.ClientURL(), n.PeerURL()} {
			if got := servedSerial(t, u, cli); got.Cmp(p.Cert.SerialNumber) != 0 {
				t.Fatalf("round %d: %s serves serial %v, want the renewed %v", round, u, got, p.Cert.SerialNumber)
			}
		}
	}
	if !n.Running() || n.Launches() != 1 {
		t.Fatalf("the node was restarted (running %v, launches %d)", n.Running(), n.Launches())
	}
	resp, err = n.HTTPClient().Get(n.ClientURL() + "/health")
	if err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	resp.Body.Close()
}

// cairnd --auto-tls serves https:// with a self-signed certificate it made in its data
// directory.
func TestAutoTLSRealProcess(t *testing.T) {
	if procs.IsEtcd() {
		t.Skip("checks where cairnd keeps the generated certificate")
	}
	n := procs.StartNode(t, procs.Options{TLS: &procs.TLS{Client: true, Peer: true,
		Args:         []string{"--auto-tls", "--peer-auto-tls"},
		ClientConfig: &tls.Config{InsecureSkipVerify: true}}})
	pem, err := os.ReadFile(filepath.Join(n.DataDir, "fixtures", "client", "cert.pem"))
	if err != nil {
		t.Fatalf("no generated certificate: %v", err)
	}
	made, err := tls.X509KeyPair(pem, mustRead(t, filepath.Join(n.DataDir, "fixtures", "client", "key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, n.ClientURL(), &tls.Config{InsecureSkipVerify: true}); got.Cmp(made.Leaf.SerialNumber) != 0 {
		t.Fatalf("served serial %v, generated %v", got, made.Leaf.SerialNumber)
	}
	resp, err := n.HTTPClient().Get(n.ClientURL() + "/v2/keys/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET over auto-TLS: %s %s", resp.Status, b)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
