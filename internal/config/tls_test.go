package config

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/tlsconf"
)

// Every TLS flag is also a CAIRN_* variable and a YAML key, under etcd's names.
func TestTLSFlagsFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cairn.yaml")
	yaml := strings.Join([]string{
		"peer-cert-file: /f/peer.pem", "peer-key-file: /f/peer-key.pem", "peer-trusted-ca-file: /f/ca.pem",
		"peer-client-cert-auth: true", "peer-auto-tls: true", "peer-cert-allowed-cn: member",
		"peer-crl-file: /f/peer.crl", "peer-cert-allowed-hostname: m.example",
		"cipher-suites:", "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"tls-max-version: TLS1.3", "",
	}, "\n")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parse(t, []string{"--config-file", file}, map[string]string{
		"CAIRN_CERT_FILE": "/e/c.pem", "CAIRN_KEY_FILE": "/e/k.pem", "CAIRN_TRUSTED_CA_FILE": "/e/ca.pem",
		"CAIRN_CLIENT_CERT_AUTH": "true", "CAIRN_AUTO_TLS": "true", "CAIRN_CLIENT_CRL_FILE": "/e/c.crl",
		"CAIRN_CLIENT_CERT_ALLOWED_HOSTNAME": "c.example", "CAIRN_TLS_MIN_VERSION": "TLS1.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	suites := []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
	cfg, err := f.Node(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	wantClient := tlsconf.Info{CertFile: "/e/c.pem", KeyFile: "/e/k.pem", TrustedCAFile: "/e/ca.pem", ClientCertAuth: true,
		CRLFile: "/e/c.crl", AllowedHostname: "c.example", CipherSuites: suites, MinVersion: "TLS1.3", MaxVersion: "TLS1.3"}
	wantPeer := tlsconf.Info{CertFile: "/f/peer.pem", KeyFile: "/f/peer-key.pem", TrustedCAFile: "/f/ca.pem", ClientCertAuth: true,
		CRLFile: "/f/peer.crl", AllowedCN: "member", AllowedHostname: "m.example", CipherSuites: suites,
		MinVersion: "TLS1.3", MaxVersion: "TLS1.3"}
	if !reflect.DeepEqual(cfg.ClientTLS, wantClient) {
		t.Errorf("client TLS\n got %+v\nwant %+v", cfg.ClientTLS, wantClient)
	}
	if !reflect.DeepEqual(cfg.PeerTLS, wantPeer) {
		t.Errorf("peer TLS\n got %+v\nwant %+v", cfg.PeerTLS, wantPeer)
	}
	if !cfg.AutoTLS || !cfg.PeerAutoTLS {
		t.Errorf("auto-tls %v, peer-auto-tls %v", cfg.AutoTLS, cfg.PeerAutoTLS)
	}
}

// An https:// URL without a certificate is refused before anything starts, naming the flag.
func TestHTTPSNeedsACertificate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen-client-urls", "http://127.0.0.1:2379,https://127.0.0.1:2479"}, "--cert-file"},
		{[]string{"--listen-peer-urls", "https://127.0.0.1:2380"}, "--peer-cert-file"},
		{[]string{"--listen-peer-urls", "https://127.0.0.1:2380", "--peer-cert-file", "c", "--peer-key-file", "k",
			"--initial-advertise-peer-urls", "http://127.0.0.1:2380"}, "all https://"},
		{[]string{"--cert-file", "c"}, "--key-file"},
		{[]string{"--client-cert-auth", "--cert-file", "c", "--key-file", "k"}, "--trusted-ca-file"},
	} {
		f, err := parse(t, tc.args, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Node(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
	// Mixed http:// and https:// client URLs with a certificate are fine.
	f, _ := parse(t, []string{"--listen-client-urls", "http://127.0.0.1:2379,https://127.0.0.1:2479",
		"--cert-file", "c", "--key-file", "k"}, nil)
	if _, err := f.Node(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Errorf("mixed client URLs: %v", err)
	}
}
