package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// TLSBuilder collects the TLS settings of a ClusterDefinition; Done returns to the chain.
// Nothing is read or checked until Connect, which fails naming the first bad setting.
type TLSBuilder struct {
	def       *ClusterDefinition
	caFile    string
	certFile  string
	keyFile   string
	caPEM     []byte
	certPEM   []byte
	keyPEM    []byte
	name      string
	protocols []string
	ciphers   []string
	insecure  bool
}

// WithTLSConfigOf makes the client speak TLS to every node: it dials https:// URLs only and
// verifies each node's certificate against the name it expects of that node. Calling it again
// returns the same builder.
func (d *ClusterDefinition) WithTLSConfigOf() *TLSBuilder {
	if d.tls == nil {
		d.tls = &TLSBuilder{def: d}
	}
	return d.tls
}

// CAFile names a PEM file of the certificate authorities that sign the nodes' certificates;
// without it the system's roots are trusted.
func (b *TLSBuilder) CAFile(path string) *TLSBuilder { b.caFile = path; return b }

// CertFile names the PEM certificate the client presents (for --client-cert-auth); KeyFile
// names its key. Both or neither.
func (b *TLSBuilder) CertFile(path string) *TLSBuilder { b.certFile = path; return b }

// KeyFile names the PEM private key of CertFile.
func (b *TLSBuilder) KeyFile(path string) *TLSBuilder { b.keyFile = path; return b }

// CAPEM is CAFile for certificates held in memory (a Kubernetes Secret's ca.crt, say). Given
// both, the client trusts the authorities of each.
func (b *TLSBuilder) CAPEM(pem []byte) *TLSBuilder { b.caPEM = append([]byte(nil), pem...); return b }

// CertificatePEM is CertFile and KeyFile for a certificate and key held in memory. It takes
// the place of the files when both are given.
func (b *TLSBuilder) CertificatePEM(cert, key []byte) *TLSBuilder {
	b.certPEM, b.keyPEM = append([]byte(nil), cert...), append([]byte(nil), key...)
	return b
}

// TLSName is the name verified in a seed's certificate when its Host has no TLSName, and, when
// set, the name verified in the certificate of every node the client learns, instead of the
// host of the URL the node advertises.
func (b *TLSBuilder) TLSName(name string) *TLSBuilder { b.name = name; return b }

// Protocols limits the TLS versions offered, from the lowest to the highest given:
// "TLSv1.2", "TLSv1.3", or etcd's spelling "TLS1.2", "TLS1.3". Default: TLS 1.2 and 1.3.
func (b *TLSBuilder) Protocols(versions ...string) *TLSBuilder {
	b.protocols = append([]string(nil), versions...)
	return b
}

// Ciphers limits the TLS 1.2 cipher suites offered, by their IANA names as etcd's
// --cipher-suites takes them (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...). TLS 1.3 suites are
// always those of Go's crypto/tls; their names are accepted and change nothing.
func (b *TLSBuilder) Ciphers(names ...string) *TLSBuilder {
	b.ciphers = append([]string(nil), names...)
	return b
}

// InsecureSkipVerify(true) accepts any certificate from any node: the connection is encrypted
// but nobody checks whom it reaches. It is for trying things out (cairnctl's
// --insecure-skip-tls-verify); TLSName and the nodes' names are then not verified.
func (b *TLSBuilder) InsecureSkipVerify(skip bool) *TLSBuilder { b.insecure = skip; return b }

// Done returns to the cluster definition.
func (b *TLSBuilder) Done() *ClusterDefinition { return b.def }

// protocolVersions maps the accepted spellings to versions.
var protocolVersions = map[string]uint16{
	"TLSv1.2": tls.VersionTLS12, "TLS1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13, "TLS1.3": tls.VersionTLS13,
}

// config checks every setting and reads the files: the base configuration each node's
// connections copy, with the node's expected name set.
func (b *TLSBuilder) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(b.protocols) > 0 {
		cfg.MinVersion, cfg.MaxVersion = 0, 0
		for _, p := range b.protocols {
			v, ok := protocolVersions[p]
			if !ok {
				return nil, fmt.Errorf("%w: TLS protocol %q is unknown (want TLSv1.2, TLSv1.3, TLS1.2 or TLS1.3)",
					ErrInvalidArgument, p)
			}
			if cfg.MinVersion == 0 || v < cfg.MinVersion {
				cfg.MinVersion = v
			}
			if v > cfg.MaxVersion {
				cfg.MaxVersion = v
			}
		}
	}
	if len(b.ciphers) > 0 {
		ids, err := cipherIDs(b.ciphers)
		if err != nil {
			return nil, err
		}
		cfg.CipherSuites = ids
		if len(ids) == 0 && cfg.MinVersion < tls.VersionTLS13 {
			// Only TLS 1.3 names: TLS 1.2 would be offered with no suite at all.
			cfg.MinVersion = tls.VersionTLS13
		}
	}
	if b.caFile != "" || b.caPEM != nil {
		pool := x509.NewCertPool()
		if b.caFile != "" {
			pem, err := os.ReadFile(b.caFile)
			if err != nil {
				return nil, fmt.Errorf("%w: TLS CA file: %w", ErrInvalidArgument, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrInvalidArgument, b.caFile)
			}
		}
		if b.caPEM != nil && !pool.AppendCertsFromPEM(b.caPEM) {
			return nil, fmt.Errorf("%w: TLS CA PEM holds no certificate", ErrInvalidArgument)
		}
		cfg.RootCAs = pool
	}
	switch {
	case b.certPEM != nil || b.keyPEM != nil:
		cert, err := tls.X509KeyPair(b.certPEM, b.keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS certificate and key PEM: %w", ErrInvalidArgument, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case b.certFile != "" && b.keyFile != "":
		cert, err := tls.LoadX509KeyPair(b.certFile, b.keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS certificate %s and key %s: %w", ErrInvalidArgument, b.certFile, b.keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case b.certFile != "":
		return nil, fmt.Errorf("%w: TLS certificate file %s given without a key file", ErrInvalidArgument, b.certFile)
	case b.keyFile != "":
		return nil, fmt.Errorf("%w: TLS key file %s given without a certificate file", ErrInvalidArgument, b.keyFile)
	}
	if b.name != "" && !validName(b.name) {
		return nil, fmt.Errorf("%w: TLS name %q", ErrInvalidArgument, b.name)
	}
	cfg.InsecureSkipVerify = b.insecure
	// Reconnecting to a node resumes the session instead of a full handshake.
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	return cfg, nil
}

// cipherIDs maps suite names to the TLS 1.2 suite IDs to offer; TLS 1.3 names map to nothing.
func cipherIDs(names []string) ([]uint16, error) {
	known := map[string]*tls.CipherSuite{}
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s
	}
	ids := []uint16{}
	for _, n := range names {
		s, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("%w: TLS cipher suite %q is unknown or insecure (known: %s)",
				ErrInvalidArgument, n, strings.Join(sortedKeys(known), ", "))
		}
		if only13(s) {
			continue
		}
		ids = append(ids, s.ID)
	}
	return ids, nil
}

func only13(s *tls.CipherSuite) bool {
	return len(s.SupportedVersions) == 1 && s.SupportedVersions[0] == tls.VersionTLS13
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrTLSVerification means a node's certificate did not verify: not signed by a trusted
// authority, expired, or not issued for the name the client expects of that node.
var ErrTLSVerification = errors.New("cairn: TLS verification failed")

// tlsError names the endpoint and the name expected of it when err is a certificate failure,
// and returns err unchanged otherwise.
func (c *Cluster) tlsError(err error, ep endpoint) error {
	if c.tlsCfg == nil {
		return err
	}
	who, expected := ep.who, ep.tlsName
	var (
		host    x509.HostnameError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &host):
		return fmt.Errorf("%w: %s: certificate is not valid for the expected name %q: %w",
			ErrTLSVerification, who, expected, err)
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("%w: %s (expected name %q): %w", ErrTLSVerification, who, expected, err)
	}
	return err
}
