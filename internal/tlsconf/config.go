package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
)

// Info is one port's TLS settings, as etcd's flags give them.
type Info struct {
	CertFile      string
	KeyFile       string
	TrustedCAFile string
	// ClientCertAuth makes a listener refuse any peer without a certificate signed by
	// TrustedCAFile.
	ClientCertAuth bool
	CRLFile        string
	// AllowedCN and AllowedHostname, when set, refuse a verified certificate whose common
	// name differs, or which is not valid for the hostname.
	AllowedCN       string
	AllowedHostname string
	// SelfSigned marks a certificate made by auto-TLS: the dialing side cannot verify the
	// other members' own self-signed certificates, so it encrypts without verifying, as etcd
	// does with --peer-auto-tls.
	SelfSigned bool

	CipherSuites []string
	MinVersion   string // TLS1.2 (default) or TLS1.3
	MaxVersion   string

	// Logger hears of re-read files and of changed files that do not load (default: slog's).
	Logger *slog.Logger
}

func (i Info) log() *slog.Logger {
	if i.Logger == nil {
		return slog.Default()
	}
	return i.Logger
}

// Empty reports whether no certificate is configured.
func (i Info) Empty() bool { return i.CertFile == "" && i.KeyFile == "" }

// ServerConfig builds a listener's configuration. The certificate and the CRL are read now
// (a bad file is an error at start) and again whenever the files change.
func (i Info) ServerConfig() (*tls.Config, error) {
	if i.CertFile == "" || i.KeyFile == "" {
		return nil, ErrNoCertificate
	}
	cfg, err := i.base()
	if err != nil {
		return nil, err
	}
	kp, err := newKeyPair(i.log(), i.CertFile, i.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() }
	if i.TrustedCAFile != "" {
		if cfg.ClientCAs, err = loadPool(i.TrustedCAFile); err != nil {
			return nil, err
		}
	}
	if i.ClientCertAuth {
		if cfg.ClientCAs == nil {
			return nil, ErrNoTrustedCA
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig builds the configuration a member dials other members with: it presents the
// same certificate (re-read on change) and verifies theirs against TrustedCAFile (the
// system's roots when empty). The server name is the dialer's to set, from the address.
func (i Info) ClientConfig() (*tls.Config, error) {
	cfg, err := i.base()
	if err != nil {
		return nil, err
	}
	if !i.Empty() {
		kp, err := newKeyPair(i.log(), i.CertFile, i.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	if i.TrustedCAFile != "" {
		if cfg.RootCAs, err = loadPool(i.TrustedCAFile); err != nil {
			return nil, err
		}
	}
	// Auto-TLS members cannot verify each other; the link is encrypted, not authenticated.
	cfg.InsecureSkipVerify = i.SelfSigned && i.TrustedCAFile == ""
	return cfg, nil
}

// base holds what both sides share: versions, cipher suites and the checks on the other
// side's certificate (CRL, allowed CN and hostname).
func (i Info) base() (*tls.Config, error) {
	minV, err := Version("--tls-min-version", i.MinVersion)
	if err != nil {
		return nil, err
	}
	maxV, err := Version("--tls-max-version", i.MaxVersion)
	if err != nil {
		return nil, err
	}
	if minV == 0 {
		minV = tls.VersionTLS12
	}
	if maxV != 0 && maxV < minV {
		return nil, fmt.Errorf("--tls-max-version %s is below --tls-min-version %s", i.MaxVersion, orDefault(i.MinVersion))
	}
	suites, err := CipherSuites(i.CipherSuites)
	if err != nil {
		return nil, err
	}
	if len(suites) > 0 && minV == tls.VersionTLS13 {
		return nil, fmt.Errorf("--cipher-suites cannot be set with --tls-min-version TLS1.3: Go does not configure TLS 1.3 suites")
	}
	cfg := &tls.Config{MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}
	var crl *fileValue[*revocations]
	if i.CRLFile != "" {
		if crl, err = newCRL(i.log(), i.CRLFile); err != nil {
			return nil, err
		}
	}
	if crl != nil || i.AllowedCN != "" || i.AllowedHostname != "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return i.check(cs, crl) }
	}
	return cfg, nil
}

func orDefault(v string) string {
	if v == "" {
		return "TLS1.2"
	}
	return v
}

// check runs after the standard verification: on the verified chains when there are some,
// else on what the other side sent (auto-TLS). A listener whose client sent no certificate
// has nothing to check; ClientCertAuth is what refuses that.
func (i Info) check(cs tls.ConnectionState, crl *fileValue[*revocations]) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if crl != nil {
		r, err := crl.get()
		if err != nil {
			return err
		}
		chains := cs.VerifiedChains
		if len(chains) == 0 {
			chains = [][]*x509.Certificate{cs.PeerCertificates}
		}
		for _, chain := range chains {
			for _, c := range chain {
				if r.revoked(c) {
					return fmt.Errorf("%w: serial %s", ErrRevoked, c.SerialNumber)
				}
			}
		}
	}
	leaf := cs.PeerCertificates[0]
	if i.AllowedCN != "" && leaf.Subject.CommonName != i.AllowedCN {
		return ErrCNNotAllowed
	}
	if i.AllowedHostname != "" && leaf.VerifyHostname(i.AllowedHostname) != nil {
		return ErrHostnameNotAllowed
	}
	return nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
