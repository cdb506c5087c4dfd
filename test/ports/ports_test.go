package ports

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestFreeNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p, err := Free("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = net.Listen("tcp", taken.Addr().String())
	if !InUse(err) {
		t.Fatalf("a second bind of %s: %v is not recognised as in use", taken.Addr(), err)
	}
	if !InUse(fmt.Errorf("etcd exited: listen tcp 127.0.0.1:1: bind: %s", InUseText)) {
		t.Fatal("a child's in-use message is not recognised")
	}
	if InUse(errors.New("connection refused")) || InUse(nil) {
		t.Fatal("another failure taken for an address in use")
	}
}

func TestListenWaitsForTheAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()
	var releasing atomic.Bool
	go func() {
		time.Sleep(200 * time.Millisecond) // the other holder lets go a while later
		releasing.Store(true)
		taken.Close()
	}()
	ln, err := Listen(addr, 10*time.Second)
	if err != nil {
		t.Fatalf("Listen did not wait for %s: %v", addr, err)
	}
	ln.Close()
	if !releasing.Load() {
		t.Fatal("bound while the holder still had the address")
	}
}

func TestRetryStopsOnOtherErrorsAndAtTheDeadline(t *testing.T) {
	calls := 0
	other := errors.New("refused")
	if err := Retry(time.Minute, func() error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("other error: %v after %d calls", err, calls)
	}
	calls = 0
	start := time.Now()
	err := Retry(300*time.Millisecond, func() error { calls++; return errors.New(InUseText) })
	if !InUse(err) || calls < 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("in use until the deadline: %v after %d calls in %v", err, calls, time.Since(start))
	}
}
