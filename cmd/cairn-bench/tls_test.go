package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/bench"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

func TestTLSFlags(t *testing.T) {
	set := tlstest.NewSet(t, "bench")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	ep := c.Members[0].ClientURL
	if !strings.HasPrefix(ep, "https://") {
		t.Fatalf("endpoint %s", ep)
	}
	out, errOut, err := execute(t, "put", "--endpoints", ep, "--target", "cairn", "--total", "20", "--clients", "2",
		"--cacert", set.CAFile, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile, "--json", "--progress=false")
	var res bench.Result
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Ops != 20 || res.ErrTotal != 0 {
		t.Fatalf("put over TLS: %v, %s %s", err, out, errOut)
	}
	// Without --cacert the test CA is unknown: every request fails.
	out, _, _ = execute(t, "put", "--endpoints", ep, "--target", "cairn", "--total", "5", "--clients", "1",
		"--cert", set.ClientCertFile, "--key", set.ClientKeyFile, "--json", "--progress=false")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.ErrTotal == 0 {
		t.Fatalf("put without --cacert: %v, %s", err, out)
	}
}
