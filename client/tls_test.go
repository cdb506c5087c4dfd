package client

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/api"
)

func TestTLSBuilderProtocols(t *testing.T) {
	for _, tc := range []struct {
		versions []string
		min, max uint16
	}{
		{nil, tls.VersionTLS12, 0},
		{[]string{"TLSv1.2"}, tls.VersionTLS12, tls.VersionTLS12},
		{[]string{"TLS1.3"}, tls.VersionTLS13, tls.VersionTLS13},
		{[]string{"TLSv1.3", "TLS1.2"}, tls.VersionTLS12, tls.VersionTLS13},
	} {
		d := NewClusterDefinition("127.0.0.1", 2379)
		cfg, err := d.WithTLSConfigOf().Protocols(tc.versions...).config()
		if err != nil {
			t.Fatalf("%v: %v", tc.versions, err)
		}
		if cfg.MinVersion != tc.min || cfg.MaxVersion != tc.max {
			t.Fatalf("%v: min %x max %x, want %x %x", tc.versions, cfg.MinVersion, cfg.MaxVersion, tc.min, tc.max)
		}
	}
}

func TestTLSBuilderCiphers(t *testing.T) {
	d := NewClusterDefinition("127.0.0.1", 2379)
	cfg, err := d.WithTLSConfigOf().Ciphers("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256").config()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CipherSuites) != 1 || cfg.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ||
		cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("suites %x, min %x", cfg.CipherSuites, cfg.MinVersion)
	}
	// TLS 1.3 names alone leave no TLS 1.2 suite to offer: only TLS 1.3 is.
	cfg, err = NewClusterDefinition("h", 1).WithTLSConfigOf().Ciphers("TLS_AES_256_GCM_SHA384").config()
	if err != nil || cfg.MinVersion != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3 names only: min %x, %v", cfg.MinVersion, err)
	}
}

// Every bad setting is an ErrInvalidArgument from Connect, naming it, before any node is dialled
// (the seed's port has nothing listening: a dial would fail otherwise).
func TestTLSBuilderRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(*TLSBuilder)
		want  string
	}{
		{"unknown protocol", func(b *TLSBuilder) { b.Protocols("TLSv1.2", "SSLv3") }, `"SSLv3"`},
		{"old protocol", func(b *TLSBuilder) { b.Protocols("TLSv1.1") }, `"TLSv1.1"`},
		{"unknown cipher", func(b *TLSBuilder) { b.Ciphers("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_FAST") }, `"TLS_FAST"`},
		{"insecure cipher", func(b *TLSBuilder) { b.Ciphers("TLS_RSA_WITH_RC4_128_SHA") }, `"TLS_RSA_WITH_RC4_128_SHA"`},
		{"certificate without key", func(b *TLSBuilder) { b.CertFile(filepath.Join(dir, "c.pem")) }, "without a key file"},
		{"key without certificate", func(b *TLSBuilder) { b.KeyFile(filepath.Join(dir, "k.pem")) }, "without a certificate file"},
		{"missing CA file", func(b *TLSBuilder) { b.CAFile(filepath.Join(dir, "none.pem")) }, "none.pem"},
		{"CA file without PEM", func(b *TLSBuilder) { b.CAFile(notPEM) }, "holds no PEM certificate"},
		{"missing key pair", func(b *TLSBuilder) {
			b.CertFile(filepath.Join(dir, "c.pem")).KeyFile(filepath.Join(dir, "k.pem"))
		}, "c.pem"},
		{"bad TLS name", func(b *TLSBuilder) { b.TLSName("a b") }, `"a b"`},
	} {
		d := NewClusterDefinition("127.0.0.1", 1)
		tc.build(d.WithTLSConfigOf())
		_, err := d.Connect(context.Background())
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalidArgument naming %s", tc.name, err, tc.want)
		}
	}
}

func TestTLSBuilderChains(t *testing.T) {
	d := NewClusterDefinition("127.0.0.1", 2379)
	if d.WithTLSConfigOf().TLSName("x").Done() != d || d.WithTLSConfigOf().name != "x" {
		t.Fatal("Done does not return the definition, or WithTLSConfigOf a new builder")
	}
}

// target picks a URL of the client's scheme, the alternate one when asked, maps its host, and
// expects the name of the member's own advertised URL unless the builder names one.
func TestTargetSchemesAndNames(t *testing.T) {
	m := api.ClusterMember{ServerName: "n1",
		URLs:          []string{"http://n1.example:2379", "https://n1.example:2380"},
		AlternateURLs: []string{"http://10.0.0.1:2379", "https://10.0.0.1:2380"}}
	tlsCluster := func(d *ClusterDefinition) *Cluster {
		cfg, err := d.tls.config()
		if err != nil {
			t.Fatal(err)
		}
		return newCluster(*d, cfg)
	}
	for _, tc := range []struct {
		name     string
		c        *Cluster
		m        api.ClusterMember
		base     string
		tlsName  string
		errMatch string
	}{
		{"plain uses http", newCluster(*NewClusterDefinition("h", 1), nil), m, "http://n1.example:2379", "", ""},
		{"TLS uses https", tlsCluster(NewClusterDefinition("h", 1).WithTLSConfigOf().Done()), m,
			"https://n1.example:2380", "n1.example", ""},
		{"IP map changes the address, not the name",
			tlsCluster(NewClusterDefinition("h", 1).WithIPMap(map[string]string{"n1.example": "127.0.0.1"}).WithTLSConfigOf().Done()),
			m, "https://127.0.0.1:2380", "n1.example", ""},
		{"alternate changes the address, not the name",
			tlsCluster(NewClusterDefinition("h", 1).UsingServicesAlternate().WithTLSConfigOf().Done()),
			m, "https://10.0.0.1:2380", "n1.example", ""},
		{"builder name applies to learned nodes",
			tlsCluster(NewClusterDefinition("h", 1).WithTLSConfigOf().TLSName("cairn.internal").Done()),
			m, "https://n1.example:2380", "cairn.internal", ""},
		{"old server: url only", tlsCluster(NewClusterDefinition("h", 1).WithTLSConfigOf().Done()),
			api.ClusterMember{ServerName: "n1", URL: "https://[::1]:2379"}, "https://[::1]:2379", "::1", ""},
		{"TLS never falls back to http", tlsCluster(NewClusterDefinition("h", 1).WithTLSConfigOf().Done()),
			api.ClusterMember{ServerName: "n2", URLs: []string{"http://n2.example:2379"}}, "", "",
			"member n2 advertises no https:// client URL"},
		{"plain never dials https", newCluster(*NewClusterDefinition("h", 1), nil),
			api.ClusterMember{ServerName: "n2", URLs: []string{"https://n2.example:2379"}}, "", "",
			"member n2 advertises no http:// client URL"},
	} {
		ep, err := tc.c.target(tc.m)
		switch {
		case tc.errMatch != "":
			if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
				t.Errorf("%s: %+v, %v; want an error %q", tc.name, ep, err, tc.errMatch)
			}
		case err != nil || ep.base != tc.base || ep.tlsName != tc.tlsName:
			t.Errorf("%s: %+v, %v; want %s expecting %q", tc.name, ep, err, tc.base, tc.tlsName)
		}
	}
}

func TestSeedEndpointNames(t *testing.T) {
	def := NewClusterDefinition("h", 1).WithIPMap(map[string]string{"seed.example": "127.0.0.1"})
	cfg, _ := def.WithTLSConfigOf().config()
	c := newCluster(*def, cfg)
	for _, tc := range []struct {
		h             Host
		base, tlsName string
	}{
		{Host{Name: "seed.example", Port: 2379}, "https://127.0.0.1:2379", "seed.example"},
		{Host{Name: "127.0.0.2", TLSName: "n2.example", Port: 2379}, "https://127.0.0.2:2379", "n2.example"},
	} {
		if ep := c.seedEndpoint(tc.h); ep.base != tc.base || ep.tlsName != tc.tlsName {
			t.Errorf("%v: %+v, want %s expecting %q", tc.h, ep, tc.base, tc.tlsName)
		}
	}
	def.WithTLSConfigOf().TLSName("default.example")
	if ep := newCluster(*def, cfg).seedEndpoint(Host{Name: "10.0.0.1", Port: 1}); ep.tlsName != "default.example" {
		t.Errorf("builder name not the default of a seed: %+v", ep)
	}
	if ep := newCluster(*NewClusterDefinition("h", 1), nil).seedEndpoint(Host{Name: "h", Port: 1}); ep.base != "http://h:1" {
		t.Errorf("plain seed: %+v", ep)
	}
}
