package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNodeKeepsNoRequestURLFromAFailure(t *testing.T) {
	n := newNode("n1", endpoint{base: "http://127.0.0.1:2379"}, 1)
	for _, err := range []error{
		&url.Error{Op: "Get", URL: "http://127.0.0.1:2379/v2/keys/secret-key?wait=true", Err: context.DeadlineExceeded},
		fmt.Errorf("%w: node n1: %w", ErrTLSVerification,
			&url.Error{Op: "Put", URL: "http://127.0.0.1:2379/v2/keys/secret-key", Err: errors.New("reset")}),
	} {
		n.failed(err, SystemSettings{})
		got := n.info("").Err
		if strings.Contains(got, "secret") || !strings.Contains(got, "http://127.0.0.1:2379") {
			t.Fatalf("%q: want the node's address and not the key", got)
		}
	}
}

func TestBreakerWindowSlidesAndZeroDisables(t *testing.T) {
	const w = time.Second
	t0 := time.Now()
	n := newNode("n1", endpoint{base: "http://127.0.0.1:2379"}, 1)
	s := SystemSettings{MaxErrorRate: 2, ErrorRateWindow: w}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	n.countErrLocked(at(0), s)
	n.countErrLocked(at(600*time.Millisecond), s)
	n.countErrLocked(at(1200*time.Millisecond), s) // the first error has left the window
	if !n.openUntil.IsZero() {
		t.Fatalf("opened with 2 errors within the window: until %v", n.openUntil.Sub(t0))
	}
	n.countErrLocked(at(1300*time.Millisecond), s) // 3 within 1s, across a 1s boundary
	if want := at(2300 * time.Millisecond); !n.openUntil.Equal(want) {
		t.Fatalf("open until %v, want %v", n.openUntil.Sub(t0), want.Sub(t0))
	}

	off := newNode("n2", endpoint{base: "http://127.0.0.1:2380"}, 1)
	for i := 0; i < 100; i++ {
		off.countErrLocked(at(time.Duration(i)*time.Millisecond), SystemSettings{ErrorRateWindow: w})
	}
	if !off.openUntil.IsZero() || off.breakerOpen() {
		t.Fatal("MaxErrorRate 0 opened the breaker")
	}
}
