package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/client"
)

func TestAuthModes(t *testing.T) {
	d := client.NewClusterDefinition("127.0.0.1", 2379)
	if d.AuthMode() != client.AuthModeNone {
		t.Fatal("a new definition authenticates")
	}
	if d.WithNativeCredentials("u", "p").AuthMode() != client.AuthModeNative {
		t.Fatal("native")
	}
	if d.WithNativeCredentials("", "").AuthMode() != client.AuthModeNone {
		t.Fatal("empty native credentials do not turn authentication off")
	}
	if d.WithExternalCredentials("u", "p").AuthMode() != client.AuthModeExternal {
		t.Fatal("external")
	}
	if d.WithCertificateCredentials().AuthMode() != client.AuthModePKI {
		t.Fatal("pki")
	}
	for m, s := range map[client.AuthMode]string{client.AuthModeNone: "none", client.AuthModeNative: "native",
		client.AuthModeExternal: "external", client.AuthModePKI: "pki"} {
		if m.String() != s {
			t.Errorf("%d: %q", m, m.String())
		}
	}
}

// Credentials that cannot work are refused by Connect before anything is sent.
func TestAuthSetupRefused(t *testing.T) {
	ctx := context.Background()
	_, err := client.NewClusterDefinition("127.0.0.1", 1).WithExternalCredentials("u", "p").Connect(ctx)
	if !errors.Is(err, client.ErrTLSRequired) {
		t.Fatalf("external without TLS: %v", err)
	}
	_, err = client.NewClusterDefinition("127.0.0.1", 1).WithCertificateCredentials().Connect(ctx)
	if !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "CertFile and KeyFile") {
		t.Fatalf("certificate credentials without files: %v", err)
	}
	d := client.NewClusterDefinitionHosts(client.NewHost("127.0.0.1", 1), client.Host{Name: "127.0.0.2", Port: 1, TLSName: "n2"})
	d.WithTLSConfigOf().CertFile("c.pem").KeyFile("k.pem")
	_, err = d.WithCertificateCredentials().Connect(ctx)
	if !errors.Is(err, client.ErrTLSNameRequired) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("host without TLS name: %v", err)
	}
	_, err = client.NewClusterDefinition("127.0.0.1", 1).WithNativeCredentials("", "pw").Connect(ctx)
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("password without user: %v", err)
	}
}
