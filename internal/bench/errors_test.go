package bench

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestClassifyResponses(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"action":"get"}`, ""},
		{201, `{"action":"set"}`, ""},
		{404, `{"errorCode":100,"message":"Key not found","cause":"/s/missing","index":14}`, "etcd-100"},
		{412, `{"errorCode":101,"message":"Compare failed","cause":"[1 != 14]","index":14}`, "etcd-101"},
		{400, `{"errorCode": 209,"message":"x"}`, "etcd-209"},
		{503, ``, "http-503"},
		{500, `not json`, "http-500"},
	} {
		if got := Classify(c.status, []byte(c.body), nil); got != c.want {
			t.Errorf("Classify(%d, %s) = %q, want %q", c.status, c.body, got, c.want)
		}
	}
}

func TestScanUint(t *testing.T) {
	body := []byte(`{"action":"compareAndSwap","node":{"key":"/a","value":"x","modifiedIndex":15,"createdIndex":14},"prevNode":{"modifiedIndex":14}}`)
	if n, ok := scanUint(body, `"modifiedIndex":`); !ok || n != 15 {
		t.Fatalf("got %d %v, want the node's 15", n, ok)
	}
	if _, ok := scanUint([]byte(`{"modifiedIndex":"x"}`), `"modifiedIndex":`); ok {
		t.Fatal("parsed a non-number")
	}
	if _, ok := scanUint(body, `"errorCode":`); ok {
		t.Fatal("found a field that is absent")
	}
}

// transportErr performs one request through the bench's own Conn and returns
// the transport error.
func transportErr(t *testing.T, impl HTTPImpl, addr string, timeout time.Duration) error {
	t.Helper()
	cl, err := NewClient([]string{"http://" + addr}, 1, timeout, impl, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = cl.NewConn(context.Background(), 0).Do(http.MethodGet, "/k", "", nil)
	if err == nil {
		t.Fatal("request succeeded")
	}
	return err
}

func TestClassifyTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	// A peer that accepts and says nothing: the response timeout fires.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // kept open, unanswered, until the listener closes
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	// A peer that reads the request and hangs up without replying.
	hangup, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangup.Close()
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()

	for _, impl := range []HTTPImpl{RawHTTP, StdlibHTTP} {
		t.Run(string(impl), func(t *testing.T) {
			if got := Classify(0, nil, transportErr(t, impl, closed, time.Second)); got != "transport-refused" {
				t.Errorf("closed port: %q", got)
			}
			if got := Classify(0, nil, transportErr(t, impl, silent.Addr().String(), 50*time.Millisecond)); got != "transport-timeout" {
				t.Errorf("silent peer: %q", got)
			}
			if got := Classify(0, nil, transportErr(t, impl, hangup.Addr().String(), time.Second)); got != "transport-eof" {
				t.Errorf("hang-up: %q", got)
			}
		})
	}
}
