package bench

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// A run against https:// endpoints that require a client certificate: with the files every
// request succeeds (puts and a watch stream), without the client certificate none does.
func TestRunOverTLS(t *testing.T) {
	set := tlstest.NewSet(t, "bench")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	cfg := DefaultConfig()
	cfg.Endpoints = []string{c.Members[0].ClientURL}
	cfg.Flavour = Flavours["cairn"]
	cfg.Clients, cfg.Total, cfg.KeyCount, cfg.Preload = 4, 200, 50, false
	cfg.TLS = TLSFiles{CACert: set.CAFile, Cert: set.ClientCertFile, Key: set.ClientKeyFile}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil || res.Ops != 200 || res.ErrTotal != 0 || res.HTTP != StdlibHTTP {
		t.Fatalf("put over TLS: %v, %+v", err, res)
	}

	w := cfg
	w.Workload, w.Total, w.Duration, w.Watchers, w.Rate = Watch, 0, time.Second, 2, 50
	res, err = Run(context.Background(), w, nil)
	if err != nil || res.Ops == 0 || res.ErrTotal != 0 {
		t.Fatalf("watch over TLS: %v, %+v", err, res)
	}

	noCert := cfg
	noCert.Total = 20
	noCert.TLS = TLSFiles{CACert: set.CAFile}
	res, err = Run(context.Background(), noCert, nil)
	if err == nil && (res.Ops != 0 || res.ErrTotal == 0) {
		t.Fatalf("put without a client certificate: %+v", res)
	}

	bad := cfg
	bad.TLS = TLSFiles{CACert: set.CAFile, Cert: set.ClientCertFile}
	if _, err := Run(context.Background(), bad, nil); err == nil {
		t.Fatal("--cert without --key accepted")
	}
}
