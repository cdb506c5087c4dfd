package node

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"

	"github.com/cairn-io/cairn/internal/tlsconf"
)

// validateTLS refuses https:// URLs that no certificate could serve and certificate settings
// that cannot work, naming the flags to fix; the files themselves are read by buildTLS.
func (c *Config) validateTLS() error {
	for _, u := range c.ListenClientURLs {
		if scheme(u) == "https" && c.ClientTLS.Empty() && !c.AutoTLS {
			return fmt.Errorf("--listen-client-urls %s needs --cert-file and --key-file, or --auto-tls: %w", u, tlsconf.ErrNoCertificate)
		}
	}
	if (c.ClientTLS.CertFile == "") != (c.ClientTLS.KeyFile == "") {
		return fmt.Errorf("--cert-file and --key-file go together")
	}
	if c.ClientTLS.ClientCertAuth && c.ClientTLS.TrustedCAFile == "" {
		return fmt.Errorf("--client-cert-auth needs --trusted-ca-file: %w", tlsconf.ErrNoTrustedCA)
	}
	if len(c.ListenPeerURLs) == 0 {
		return fmt.Errorf("--listen-peer-urls is empty")
	}
	peerTLS := scheme(c.ListenPeerURLs[0]) == "https"
	for _, u := range append(append([]string(nil), c.ListenPeerURLs...), c.InitialAdvertisePeerURLs...) {
		if (scheme(u) == "https") != peerTLS {
			return fmt.Errorf("--listen-peer-urls and --initial-advertise-peer-urls must all be http:// or all https://, got %s", u)
		}
	}
	if peerTLS && c.PeerTLS.Empty() && !c.PeerAutoTLS {
		return fmt.Errorf("--listen-peer-urls %s needs --peer-cert-file and --peer-key-file, or --peer-auto-tls: %w", c.ListenPeerURLs[0], tlsconf.ErrNoCertificate)
	}
	if (c.PeerTLS.CertFile == "") != (c.PeerTLS.KeyFile == "") {
		return fmt.Errorf("--peer-cert-file and --peer-key-file go together")
	}
	if c.PeerTLS.ClientCertAuth && c.PeerTLS.TrustedCAFile == "" {
		return fmt.Errorf("--peer-client-cert-auth needs --peer-trusted-ca-file: %w", tlsconf.ErrNoTrustedCA)
	}
	return nil
}

// tlsConfigs are the node's TLS configurations, nil where the URLs are http://.
type tlsConfigs struct {
	client     *tls.Config // https:// client listeners
	peerServer *tls.Config // the peer port
	peerClient *tls.Config // every connection to another member: raft, relay, peer HTTP
}

// buildTLS reads the certificate files (making auto-TLS ones in the data directory first).
func buildTLS(c Config) (tlsConfigs, error) {
	var out tlsConfigs
	clientTLS := false
	for _, u := range c.ListenClientURLs {
		clientTLS = clientTLS || scheme(u) == "https"
	}
	if clientTLS {
		info := c.ClientTLS
		info.Logger = c.Logger.With("port", "client")
		if info.Empty() {
			if err := autoCert(&info, filepath.Join(c.DataDir, "fixtures", "client"), c.ListenClientURLs, c.AdvertiseClientURLs); err != nil {
				return out, fmt.Errorf("--auto-tls: %v", err)
			}
		}
		cfg, err := info.ServerConfig()
		if err != nil {
			return out, fmt.Errorf("client TLS (--cert-file, --key-file, --trusted-ca-file, --client-crl-file): %w", err)
		}
		out.client = cfg
	}
	if scheme(c.ListenPeerURLs[0]) == "https" {
		info := c.PeerTLS
		info.Logger = c.Logger.With("port", "peer")
		if info.Empty() {
			if err := autoCert(&info, filepath.Join(c.DataDir, "fixtures", "peer"), c.ListenPeerURLs, c.InitialAdvertisePeerURLs); err != nil {
				return out, fmt.Errorf("--peer-auto-tls: %v", err)
			}
		}
		var err error
		if out.peerServer, err = info.ServerConfig(); err != nil {
			return out, fmt.Errorf("peer TLS (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-crl-file): %w", err)
		}
		if out.peerClient, err = info.ClientConfig(); err != nil {
			return out, fmt.Errorf("peer TLS (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-crl-file): %w", err)
		}
	}
	return out, nil
}

// autoCert makes (or reuses) a self-signed certificate for the URLs' hosts.
func autoCert(info *tlsconf.Info, dir string, urlLists ...[]string) error {
	var hosts []string
	seen := map[string]bool{}
	for _, urls := range urlLists {
		for _, u := range urls {
			pu, err := parseURL(u)
			if err != nil || seen[pu.Hostname()] {
				continue
			}
			seen[pu.Hostname()] = true
			hosts = append(hosts, pu.Hostname())
		}
	}
	cert, key, err := tlsconf.SelfSigned(dir, hosts)
	if err != nil {
		return err
	}
	info.CertFile, info.KeyFile, info.SelfSigned = cert, key, true
	return nil
}

// listenerFor wraps ln in TLS when its URL is https://.
func listenerFor(ln net.Listener, rawURL string, cfg *tls.Config) net.Listener {
	if scheme(rawURL) == "https" {
		return tls.NewListener(ln, cfg)
	}
	return ln
}
