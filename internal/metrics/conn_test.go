package metrics

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Bytes on dialed and accepted peer connections count against the member at the other end;
// an accepted connection from an IP several members share cannot be told apart.
func TestPeerTrafficIsLabelledByMember(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server, client := New(), New()
	addr := ln.Addr().String()
	single := func() map[string]string { return map[string]string{"aa": addr} }
	shared := func() map[string]string { return map[string]string{"aa": addr, "bb": "127.0.0.1:1"} }
	sln := server.Listener(ln, single)

	done := make(chan error, 1)
	go func() {
		c, err := sln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte("pong!!"))
		done <- err
	}()
	dial := client.Dialer((&net.Dialer{}).DialContext, shared)
	c, err := dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping!")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, client.PeerSentBytes.WithLabelValues("aa")); v != 5 {
		t.Errorf("dialer sent to aa: %v, want 5", v)
	}
	if v := counterValue(t, client.PeerReceivedBytes.WithLabelValues("aa")); v != 6 {
		t.Errorf("dialer received from aa: %v, want 6", v)
	}
	// The listener's only known member on 127.0.0.1 is aa itself: the accepted side says aa.
	if v := counterValue(t, server.PeerReceivedBytes.WithLabelValues("aa")); v != 5 {
		t.Errorf("listener received from aa: %v, want 5", v)
	}
	if got := peerByIP(shared, "127.0.0.1"); got != unknownPeer {
		t.Errorf("two members on one IP resolved to %q", got)
	}
	if got := peerByAddr(shared, "10.0.0.9:2380"); got != unknownPeer {
		t.Errorf("an address of no member resolved to %q", got)
	}
}
