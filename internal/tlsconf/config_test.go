package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// serve runs a TLS echo of the client certificate's CN on a loopback port, with cfg.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn, _ := tlsconf.ClientCommonName(r)
		_, _ = io.WriteString(w, cn)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake dials addr with cfg and returns the server's certificate, or the error of the
// handshake or of the first read (with TLS 1.3 a refused client certificate shows there).
func handshake(addr string, cfg *tls.Config) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return nil, err
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

func clientCfg(set *tlstest.Set, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: set.CA.Pool(), Certificates: certs}
}

func TestServerReloadsRenewedCertificate(t *testing.T) {
	for _, how := range []string{"overwrite", "rename"} {
		t.Run(how, func(t *testing.T) {
			set := tlstest.NewSet(t, "app")
			cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile}.ServerConfig()
			if err != nil {
				t.Fatal(err)
			}
			addr := serve(t, cfg)
			got, err := handshake(addr, clientCfg(set))
			if err != nil || got.SerialNumber.Cmp(set.Member.Cert.SerialNumber) != 0 {
				t.Fatalf("before renewal: %v, not the first certificate", err)
			}
			// An open connection outlives the renewal.
			old, err := tls.Dial("tcp", addr, clientCfg(set))
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()

			renewed := set.CA.Issue(t, tlstest.Leaf{CN: "cairn-member"})
			switch how {
			case "overwrite":
				tlstest.WriteFile(t, set.CertFile, renewed.CertPEM)
				tlstest.WriteFile(t, set.KeyFile, renewed.KeyPEM)
			case "rename":
				tlstest.Replace(t, set.CertFile, renewed.CertPEM)
				tlstest.Replace(t, set.KeyFile, renewed.KeyPEM)
			}
			got, err = handshake(addr, clientCfg(set))
			if err != nil {
				t.Fatal(err)
			}
			if got.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
				t.Fatalf("new connection got serial %v, want the renewed %v", got.SerialNumber, renewed.Cert.SerialNumber)
			}
			if _, err := io.WriteString(old, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatalf("open connection broken by the renewal: %v", err)
			}
			if s := old.ConnectionState().PeerCertificates[0].SerialNumber; s.Cmp(set.Member.Cert.SerialNumber) != 0 {
				t.Fatalf("open connection changed certificate")
			}
		})
	}
}

// A half-written renewal (a certificate without its key yet) keeps the old pair serving.
func TestServerKeepsOldPairUntilRenewalIsWhole(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	renewed := set.CA.Issue(t, tlstest.Leaf{CN: "cairn-member"})
	tlstest.WriteFile(t, set.CertFile, renewed.CertPEM)
	got, err := handshake(addr, clientCfg(set))
	if err != nil || got.SerialNumber.Cmp(set.Member.Cert.SerialNumber) != 0 {
		t.Fatalf("mismatched files: %v, want the old pair", err)
	}
	tlstest.WriteFile(t, set.KeyFile, renewed.KeyPEM)
	got, err = handshake(addr, clientCfg(set))
	if err != nil || got.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("whole renewal: %v, not the renewed certificate", err)
	}
}

// The dialing side presents a renewed client certificate on its next connection.
func TestClientReloadsRenewedCertificate(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	srvCfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, TrustedCAFile: set.CAFile, ClientCertAuth: true}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srvCfg)
	first := set.CA.Issue(t, tlstest.Leaf{CN: "first"})
	dir := t.TempDir()
	certFile, keyFile := first.Write(t, dir, "peer")
	cliCfg, err := tlsconf.Info{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: set.CAFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cliCfg, DisableKeepAlives: true}}
		resp, err := cl.Get("https://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if cn := get(); cn != "first" {
		t.Fatalf("server saw CN %q, want first", cn)
	}
	second := set.CA.Issue(t, tlstest.Leaf{CN: "second"})
	tlstest.Replace(t, certFile, second.CertPEM)
	tlstest.Replace(t, keyFile, second.KeyPEM)
	if cn := get(); cn != "second" {
		t.Fatalf("server saw CN %q after renewal, want second", cn)
	}
}

func TestServerRefusals(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	revoked := set.CA.Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"app.example"}})
	crlFile := filepath.Join(set.Dir, "crl.pem")
	tlstest.WriteFile(t, crlFile, set.CA.CRL(t, revoked.Cert))
	info := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, TrustedCAFile: set.CAFile, ClientCertAuth: true,
		CRLFile: crlFile, AllowedCN: "app", AllowedHostname: "app.example"}
	// The allowed hostname is checked on the client certificate's names.
	good := set.CA.Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"app.example"}})
	wrongCN := set.CA.Issue(t, tlstest.Leaf{CN: "other", Hosts: []string{"app.example"}})
	wrongHost := set.CA.Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"other.example"}})
	expired := set.CA.Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"app.example"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	foreign := tlstest.NewCA(t, "another").Issue(t, tlstest.Leaf{CN: "app", Hosts: []string{"app.example"}})
	cfg, err := info.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	if _, err := handshake(addr, clientCfg(set, good.TLS(t))); err != nil {
		t.Fatalf("good certificate refused: %v", err)
	}
	for name, certs := range map[string][]tls.Certificate{
		"no certificate": nil, "revoked": {revoked.TLS(t)}, "wrong CN": {wrongCN.TLS(t)},
		"wrong hostname": {wrongHost.TLS(t)}, "expired": {expired.TLS(t)}, "another CA": {foreign.TLS(t)},
	} {
		if _, err := handshake(addr, clientCfg(set, certs...)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A CRL renewed in place revokes a certificate that was good until then.
	tlstest.Replace(t, crlFile, set.CA.CRL(t, revoked.Cert, good.Cert))
	if _, err := handshake(addr, clientCfg(set, good.TLS(t))); err == nil {
		t.Errorf("certificate revoked by a renewed CRL still accepted")
	}
}

// The dialing side checks the CRL, the allowed CN and hostname on the server's certificate.
func TestClientRefusesRevokedServer(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	srvCfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srvCfg)
	crlFile := filepath.Join(set.Dir, "crl.pem")
	tlstest.WriteFile(t, crlFile, set.CA.CRL(t, set.Member.Cert))
	cfg, err := tlsconf.Info{TrustedCAFile: set.CAFile, CRLFile: crlFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	if _, err := handshake(addr, cfg); !errors.Is(err, tlsconf.ErrRevoked) {
		t.Fatalf("dialing a revoked server: %v, want ErrRevoked", err)
	}
	cfg, err = tlsconf.Info{TrustedCAFile: set.CAFile, AllowedCN: "someone-else"}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	if _, err := handshake(addr, cfg); !errors.Is(err, tlsconf.ErrCNNotAllowed) {
		t.Fatalf("dialing a server with another CN: %v, want ErrCNNotAllowed", err)
	}
}

func TestVersionsAndCiphers(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, MinVersion: "TLS1.3"}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	only12 := clientCfg(set)
	only12.MaxVersion = tls.VersionTLS12
	if _, err := handshake(addr, only12); err == nil {
		t.Fatal("a TLS1.3-only server accepted a TLS1.2-only client")
	}
	if _, err := handshake(addr, clientCfg(set)); err != nil {
		t.Fatalf("TLS1.3 client: %v", err)
	}

	const suite = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	cfg, err = tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, MaxVersion: "TLS1.2", CipherSuites: []string{suite}}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr = serve(t, cfg)
	other := clientCfg(set)
	other.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if _, err := handshake(addr, other); err == nil {
		t.Fatal("a server limited to one suite accepted another")
	}
	c, err := tls.Dial("tcp", addr, clientCfg(set))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := tls.CipherSuiteName(c.ConnectionState().CipherSuite); got != suite || c.ConnectionState().Version != tls.VersionTLS12 {
		t.Fatalf("negotiated %s, version %x", got, c.ConnectionState().Version)
	}
}

func TestBadSettingsAreErrors(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	base := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile}
	for _, tc := range []struct {
		name string
		info func(i tlsconf.Info) tlsconf.Info
		want error
		text string
	}{
		{"unknown cipher", func(i tlsconf.Info) tlsconf.Info { i.CipherSuites = []string{"TLS_NO_SUCH"}; return i }, tlsconf.ErrUnknownCipher, "TLS_NO_SUCH"},
		{"unknown version", func(i tlsconf.Info) tlsconf.Info { i.MinVersion = "TLS1.1"; return i }, tlsconf.ErrUnknownVersion, "--tls-min-version"},
		{"max below min", func(i tlsconf.Info) tlsconf.Info { i.MinVersion, i.MaxVersion = "TLS1.3", "TLS1.2"; return i }, nil, "--tls-max-version"},
		{"no certificate", func(i tlsconf.Info) tlsconf.Info { i.CertFile = ""; return i }, tlsconf.ErrNoCertificate, ""},
		{"client auth without CA", func(i tlsconf.Info) tlsconf.Info { i.ClientCertAuth = true; return i }, tlsconf.ErrNoTrustedCA, ""},
		{"ciphers with TLS1.3 only", func(i tlsconf.Info) tlsconf.Info {
			i.MinVersion, i.CipherSuites = "TLS1.3", []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
			return i
		}, nil, "--cipher-suites"},
		{"TLS1.3 suite by name", func(i tlsconf.Info) tlsconf.Info { i.CipherSuites = []string{"TLS_AES_128_GCM_SHA256"}; return i }, tlsconf.ErrUnknownCipher, "TLS_AES_128_GCM_SHA256"},
		{"missing key file", func(i tlsconf.Info) tlsconf.Info { i.KeyFile = filepath.Join(set.Dir, "nope"); return i }, nil, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.info(base).ServerConfig()
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestSelfSignedIsMadeOnceAndServes(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := tlsconf.SelfSigned(dir, []string{"127.0.0.1", "node1.example"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.Leaf.VerifyHostname("node1.example"); err != nil {
		t.Fatal(err)
	}
	cert2, _, err := tlsconf.SelfSigned(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := tls.LoadX509KeyPair(cert2, key)
	if err != nil || again.Leaf.SerialNumber.Cmp(pair.Leaf.SerialNumber) != 0 {
		t.Fatalf("second start made a new certificate: %v", err)
	}
}

// A CRL revokes serial numbers of its own issuer only: with two trusted CAs, the other CA's
// certificate that happens to carry a revoked serial is still accepted.
func TestCRLAppliesToItsIssuerOnly(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	other := tlstest.NewCA(t, "second CA")
	caFile := filepath.Join(set.Dir, "both-cas.pem")
	tlstest.WriteFile(t, caFile, append(append([]byte{}, set.CA.CertPEM...), other.CertPEM...))
	revoked := set.CA.Issue(t, tlstest.Leaf{CN: "app"})
	sameSerial := other.Issue(t, tlstest.Leaf{CN: "app", Serial: revoked.Cert.SerialNumber})
	crlFile := filepath.Join(set.Dir, "crl.pem")
	tlstest.WriteFile(t, crlFile, set.CA.CRL(t, revoked.Cert))
	cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, TrustedCAFile: caFile, ClientCertAuth: true, CRLFile: crlFile}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	if _, err := handshake(addr, clientCfg(set, revoked.TLS(t))); err == nil {
		t.Fatal("revoked certificate accepted")
	}
	if _, err := handshake(addr, clientCfg(set, sameSerial.TLS(t))); err != nil {
		t.Fatalf("another issuer's certificate with the same serial refused: %v", err)
	}
}

// Between an unlink and the new file's arrival the old pair goes on serving.
func TestServerSurvivesMissingFilesForAMoment(t *testing.T) {
	set := tlstest.NewSet(t, "app")
	cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	if err := os.Remove(set.CertFile); err != nil {
		t.Fatal(err)
	}
	got, err := handshake(addr, clientCfg(set))
	if err != nil || got.SerialNumber.Cmp(set.Member.Cert.SerialNumber) != 0 {
		t.Fatalf("with the certificate file missing: %v, want the old certificate", err)
	}
	renewed := set.CA.Issue(t, tlstest.Leaf{CN: "cairn-member"})
	tlstest.WriteFile(t, set.KeyFile, renewed.KeyPEM)
	tlstest.WriteFile(t, set.CertFile, renewed.CertPEM)
	got, err = handshake(addr, clientCfg(set))
	if err != nil || got.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("after the files came back: %v, not the renewed certificate", err)
	}
}

// An auto-TLS certificate about to expire is made again at the next start.
func TestSelfSignedRenewedWhenExpiring(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "x")
	old := ca.Issue(t, tlstest.Leaf{NotAfter: time.Now().Add(time.Hour)})
	tlstest.WriteFile(t, filepath.Join(dir, "cert.pem"), old.CertPEM)
	tlstest.WriteFile(t, filepath.Join(dir, "key.pem"), old.KeyPEM)
	cert, key, err := tlsconf.SelfSigned(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf.SerialNumber.Cmp(old.Cert.SerialNumber) == 0 || time.Until(pair.Leaf.NotAfter) < 300*24*time.Hour {
		t.Fatalf("expiring certificate kept (not after %v)", pair.Leaf.NotAfter)
	}
}
