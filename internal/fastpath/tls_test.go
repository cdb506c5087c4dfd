package fastpath

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// Behind a TLS listener, both the fast path and the connections handed to net/http give the
// handler the TLS state, so the verified client certificate's CN reaches it either way.
func TestTLSStateOnBothPaths(t *testing.T) {
	set := tlstest.NewSet(t, "alice")
	cfg, err := tlsconf.Info{CertFile: set.CertFile, KeyFile: set.KeyFile, TrustedCAFile: set.CAFile, ClientCertAuth: true}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := "slow"
		if _, ok := w.(*response); ok {
			path = "fast"
		}
		cn, ok := tlsconf.ClientCommonName(r)
		if !ok {
			cn = "-"
		}
		_, _ = io.WriteString(w, path+" "+cn)
	})
	s := &Server{Handler: h, Fast: func(_, _, q string) bool { return q != "slow" }, Fallback: &http.Server{Handler: h}}
	go func() { _ = s.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { s.Close() })

	for q, want := range map[string]string{"": "fast alice", "slow": "slow alice"} {
		// A connection of its own per query: one handed over stays with net/http.
		tr := &http.Transport{TLSClientConfig: set.ClientConfig(t)}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		resp, err := cl.Get("https://" + ln.Addr().String() + "/k?" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("query %q: handler saw %q, want %q", q, b, want)
		}
	}

	// Plain HTTP on the TLS port gets net/http's refusal and no handler call.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.0 400") || strings.Contains(string(b), "alice") {
		t.Fatalf("plain HTTP on a TLS port got %q", b)
	}
}
