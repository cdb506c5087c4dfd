package testcluster

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"time"

	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// TLS says which ports of every member speak TLS, with the certificates of Set: the members
// share Set's member certificate, trust its CA, and require a certificate signed by that CA
// from clients (Client) and from each other (Peer). The cluster's own HTTP client presents
// Set's client certificate.
type TLS struct {
	Set    *tlstest.Set
	Client bool
	Peer   bool
}

// WithTLS runs every member (also those added later) with TLS as t says. Tests adjust a
// member's TLS further with WithConfig (node.Config's ClientTLS and PeerTLS).
func WithTLS(t TLS) Option { return func(o *options) { o.tls = &t } }

func (t *TLS) info() tlsconf.Info {
	return tlsconf.Info{CertFile: t.Set.CertFile, KeyFile: t.Set.KeyFile, TrustedCAFile: t.Set.CAFile, ClientCertAuth: true}
}

func (t *TLS) clientInfo() tlsconf.Info {
	if t == nil || !t.Client {
		return tlsconf.Info{}
	}
	return t.info()
}

func (t *TLS) peerInfo() tlsconf.Info {
	if t == nil || !t.Peer {
		return tlsconf.Info{}
	}
	return t.info()
}

func (c *Cluster) clientScheme() string {
	if c.opts.tls != nil && c.opts.tls.Client {
		return "https"
	}
	return "http"
}

func (c *Cluster) peerScheme() string {
	if c.opts.tls != nil && c.opts.tls.Peer {
		return "https"
	}
	return "http"
}

func (c *Cluster) newHTTPClient() *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	if c.opts.tls != nil && c.opts.tls.Client {
		s := c.opts.tls.Set
		tr.TLSClientConfig = &tls.Config{RootCAs: s.CA.Pool(), MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				// Read when dialing, so a test that renews the client files sees them used.
				c, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
				return &c, err
			}}
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: tr}
}

// HTTPClient is the client the cluster's helpers use: with WithTLS on the client port it
// trusts the test CA and presents the test client certificate.
func (c *Cluster) HTTPClient() *http.Client { return c.http }

func hostPort(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Host
}
