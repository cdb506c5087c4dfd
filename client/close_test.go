package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// sdkGoroutines counts goroutines running this package's code.
func sdkGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "cairn/client.") && !strings.Contains(g, "client.TestCloseLeaksNothing") {
			n++
		}
	}
	return n
}

type countingConn struct {
	net.Conn
	open *atomic.Int64
	once atomic.Bool
}

func (c *countingConn) Close() error {
	if c.once.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

func TestCloseLeaksNothing(t *testing.T) {
	tc := testcluster.New(t, 3)
	u, _ := url.Parse(tc.Members[0].ClientURL)
	port, _ := strconv.Atoi(u.Port())
	before := sdkGoroutines()
	def := NewClusterDefinition(u.Hostname(), port).
		WithSystemSettings(SystemSettings{TendInterval: 20 * time.Millisecond, MinConnectionsPerNode: 2})
	c := newCluster(*def, nil)
	// Connect's steps, with every connection counted.
	var open atomic.Int64
	tr := c.httpClient("").Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &countingConn{Conn: conn, open: &open}, nil
	}
	if err := c.discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.startTending()

	s := c.CreateSession(DefaultBehavior)
	events := s.Watch(context.Background(), "/leak", Recursive())
	testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, err := s.Put(context.Background(), "/leak/a", "1"); err != nil {
			return err
		}
		select {
		case ev := <-events:
			if ev.Err != nil || ev.Response.Node.Key != "/leak/a" {
				t.Fatalf("%+v", ev)
			}
			return nil
		case <-time.After(100 * time.Millisecond):
			return errors.New("no event yet")
		}
	})
	if open.Load() == 0 {
		t.Fatal("no connection was counted")
	}
	c.Close()
	if _, ok := <-events; ok {
		t.Fatal("watch channel still open after Close")
	}
	if _, err := s.Get(context.Background(), "/leak/a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n := sdkGoroutines(); n > before {
			return fmt.Errorf("%d SDK goroutines left, %d before", n, before)
		}
		if n := open.Load(); n != 0 {
			return fmt.Errorf("%d connections still open", n)
		}
		return nil
	})
}
