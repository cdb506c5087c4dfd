package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/pflag"
)

// discoveryClient is the HTTP client and scheme `cairnctl quorum` lists the members with, the
// one request cairnctl makes outside the SDK: over TLS as --cacert, --cert, --key and
// --insecure-skip-tls-verify say when any is set (found in fs, where the root's flags are
// inherited), else plain HTTP.
func discoveryClient(fs *pflag.FlagSet) (*http.Client, string, error) {
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	caFile, certFile, keyFile := get("cacert"), get("cert"), get("key")
	insecure := get("insecure-skip-tls-verify") == "true"
	if caFile == "" && certFile == "" && keyFile == "" && !insecure {
		return http.DefaultClient, "http", nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, "", fmt.Errorf("--cacert: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("--cacert %s holds no PEM certificate", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, "", fmt.Errorf("--cert and --key go together")
	}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, "https", nil
}
