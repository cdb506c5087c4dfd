package bench

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSFiles are the PEM files an https:// run uses, with etcdctl's meaning: the CA that signs
// the servers' certificates (the system's roots when empty) and the client certificate and key
// for servers that require one. The servers' names are verified as net/http does, against the
// endpoint's host, unless InsecureSkipVerify.
type TLSFiles struct {
	CACert             string
	Cert               string
	Key                string
	InsecureSkipVerify bool
}

// Empty reports whether nothing is set: https:// endpoints then trust the system's roots.
func (f TLSFiles) Empty() bool {
	return f.CACert == "" && f.Cert == "" && f.Key == "" && !f.InsecureSkipVerify
}

// ClientConfig reads the files. The TLS versions and suites are Go's defaults, as etcd's
// clients use theirs: a comparison measures both servers at their default settings.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: f.InsecureSkipVerify}
	if f.CACert != "" {
		pem, err := os.ReadFile(f.CACert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", f.CACert)
		}
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("--cert and --key go together")
	}
	if f.Cert != "" {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}
