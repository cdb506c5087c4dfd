package compat

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	"github.com/cairn-io/cairn/test/procs"
)

// A real member with mutual TLS and CRLs on both ports gives no data to: a client without a
// certificate, with one of another CA, an expired one, a revoked one, plain HTTP; and its
// peer port refuses a peer without a certificate or with a revoked one.
func TestTLSRefusalsRealProcess(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	revoked := set.CA.Issue(t, tlstest.Leaf{CN: "app"})
	crl := filepath.Join(set.Dir, "crl.pem")
	tlstest.WriteFile(t, crl, set.CA.CRL(t, revoked.Cert))
	opts := mutualTLS(t, set)
	opts.Args = append(opts.Args, "--client-crl-file", crl, "--peer-crl-file", crl)
	n := procs.StartNode(t, procs.Options{TLS: opts})

	resp, err := n.HTTPClient().Get(n.ClientURL() + "/v2/keys/")
	if err != nil {
		t.Fatalf("the good client certificate: %v", err)
	}
	resp.Body.Close()

	foreign := tlstest.NewCA(t, "another CA").Issue(t, tlstest.Leaf{CN: "app"})
	expired := set.CA.Issue(t, tlstest.Leaf{CN: "app", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	for _, port := range []struct{ name, url string }{{"client", n.ClientURL() + "/v2/keys/"}, {"peer", n.PeerURL() + "/members"}} {
		for name, certs := range map[string][]tls.Certificate{
			"no certificate": nil, "another CA": {foreign.TLS(t)}, "expired": {expired.TLS(t)}, "revoked": {revoked.TLS(t)},
		} {
			cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: set.CA.Pool(), Certificates: certs}}}
			if resp, err := cl.Get(port.url); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Errorf("%s port, %s: answered %s %s", port.name, name, resp.Status, b)
			}
		}
	}
	resp, err = http.Get(strings.Replace(n.ClientURL(), "https://", "http://", 1) + "/v2/keys/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), `"node"`) {
			t.Fatalf("plain HTTP on the TLS client port got %s: %s", resp.Status, b)
		}
	}
}
