// Package tlstest makes the certificates Cairn's tests use: a CA, certificates it signs
// (server, client or both, expired or not), CRLs, and the PEM files flags point at. Every
// certificate is made by crypto/x509 when the test runs; nothing is checked in.
//
// It is imported only by tests, and must never be used to make certificates for a running
// deployment (the keys are short-lived and the defaults suit loopback only).
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// serials makes every certificate of a test run distinct, across CAs too.
var serials atomic.Int64

func init() { serials.Store(time.Now().UnixNano()) }

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewCA makes a self-signed CA named cn.
func NewCA(tb testing.TB, cn string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"cairn tests"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: key}
}

// Pool is a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf describes a certificate to issue. The zero value is a certificate for 127.0.0.1, ::1
// and localhost, good for server and client use, valid from an hour ago for a day.
type Leaf struct {
	CN        string
	Hosts     []string // IPs and DNS names; default 127.0.0.1, ::1, localhost
	NotBefore time.Time
	NotAfter  time.Time
	// ServerOnly and ClientOnly restrict the extended key usage (default: both).
	ServerOnly, ClientOnly bool
	// Serial is the serial number (default: one no other certificate of the run has).
	Serial *big.Int
}

// Pair is an issued certificate with its key.
type Pair struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Issue signs a certificate as l describes.
func (ca *CA) Issue(tb testing.TB, l Leaf) *Pair {
	tb.Helper()
	if l.CN == "" {
		l.CN = "cairn-test"
	}
	if l.Hosts == nil {
		l.Hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = time.Now().Add(24 * time.Hour)
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	switch {
	case l.ServerOnly:
		eku = eku[:1]
	case l.ClientOnly:
		eku = eku[1:]
	}
	if l.Serial == nil {
		l.Serial = big.NewInt(serials.Add(1))
	}
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: l.Serial,
		Subject:      pkix.Name{CommonName: l.CN},
		NotBefore:    l.NotBefore, NotAfter: l.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: eku,
	}
	for _, h := range l.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return &Pair{Cert: cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// TLS is p as a tls.Certificate.
func (p *Pair) TLS(tb testing.TB) tls.Certificate {
	tb.Helper()
	c, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Write puts p in dir as <name>.pem and <name>-key.pem (written over if there) and returns
// the paths.
func (p *Pair) Write(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	WriteFile(tb, certFile, p.CertPEM)
	WriteFile(tb, keyFile, p.KeyPEM)
	return certFile, keyFile
}

// Write puts the CA's certificate in dir as <name>.pem and returns the path.
func (ca *CA) Write(tb testing.TB, dir, name string) string {
	tb.Helper()
	path := filepath.Join(dir, name+".pem")
	WriteFile(tb, path, ca.CertPEM)
	return path
}

// CRL is a PEM certificate revocation list of this CA revoking certs.
func (ca *CA) CRL(tb testing.TB, revoked ...*x509.Certificate) []byte {
	tb.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(serials.Add(1)),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(24 * time.Hour),
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// WriteFile writes b to path, failing the test on error.
func WriteFile(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// Replace puts b in place of path the way deployment tools do: written to a temporary file
// beside it, then renamed over it.
func Replace(tb testing.TB, path string, b []byte) {
	tb.Helper()
	tmp := path + ".new"
	WriteFile(tb, tmp, b)
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// Set is a CA with the files a TLS cluster test needs: the CA certificate, one member
// certificate (server and client use, for 127.0.0.1, ::1 and localhost, shared by every
// member) and one client certificate.
type Set struct {
	CA             *CA
	Dir            string
	CAFile         string
	Member         *Pair
	CertFile       string
	KeyFile        string
	Client         *Pair
	ClientCertFile string
	ClientKeyFile  string
}

// NewSet makes a Set in a fresh temporary directory. The client certificate's CN is
// clientCN.
func NewSet(tb testing.TB, clientCN string) *Set {
	tb.Helper()
	s := &Set{CA: NewCA(tb, "cairn test CA"), Dir: tb.TempDir()}
	s.CAFile = s.CA.Write(tb, s.Dir, "ca")
	s.Member = s.CA.Issue(tb, Leaf{CN: "cairn-member"})
	s.CertFile, s.KeyFile = s.Member.Write(tb, s.Dir, "member")
	s.Client = s.CA.Issue(tb, Leaf{CN: clientCN, ClientOnly: true})
	s.ClientCertFile, s.ClientKeyFile = s.Client.Write(tb, s.Dir, "client")
	return s
}

// ClientConfig trusts the CA and presents the client certificate.
func (s *Set) ClientConfig(tb testing.TB) *tls.Config {
	tb.Helper()
	return &tls.Config{RootCAs: s.CA.Pool(), Certificates: []tls.Certificate{s.Client.TLS(tb)}, MinVersion: tls.VersionTLS12}
}
