package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"

	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

func TestClientCommonNameOnlyFromVerifiedChains(t *testing.T) {
	set := tlstest.NewSet(t, "alice")
	r := &http.Request{}
	if _, ok := tlsconf.ClientCommonName(r); ok {
		t.Fatal("plain request has an identity")
	}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{set.Client.Cert}}
	if _, ok := tlsconf.ClientCommonName(r); ok {
		t.Fatal("an unverified certificate gave an identity")
	}
	r.TLS.VerifiedChains = [][]*x509.Certificate{{set.Client.Cert, set.CA.Cert}}
	if cn, ok := tlsconf.ClientCommonName(r); !ok || cn != "alice" {
		t.Fatalf("got %q %v, want alice", cn, ok)
	}
}
