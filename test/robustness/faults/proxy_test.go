package faults

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves lines back until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", echo(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and waits up to wait for it to come back.
func roundTrip(c net.Conn, wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

func TestPassAndDelayPerSource(t *testing.T) {
	p := startProxy(t)
	a := dialFrom(t, "127.0.0.31", p.Addr())
	b := dialFrom(t, "127.0.0.32", p.Addr())
	if err := roundTrip(a, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Set("127.0.0.31", Rule{Delay: 150 * time.Millisecond})
	began := time.Now()
	if err := roundTrip(a, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Fatalf("delayed round trip took %v, want >= 300ms (150ms each way)", d)
	}
	began = time.Now()
	if err := roundTrip(b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 150*time.Millisecond {
		t.Fatalf("other source was slowed down: %v", d)
	}
}

func TestBlackholeCutsAndHeals(t *testing.T) {
	p := startProxy(t)
	a := dialFrom(t, "127.0.0.31", p.Addr())
	b := dialFrom(t, "127.0.0.32", p.Addr())
	if err := roundTrip(a, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Set("127.0.0.31", Rule{Blackhole: true})
	if err := roundTrip(a, time.Second); err == nil {
		t.Fatal("open connection still forwards after blackhole")
	}
	fresh := dialFrom(t, "127.0.0.31", p.Addr())
	if err := roundTrip(fresh, 300*time.Millisecond); err == nil {
		t.Fatal("new connection forwards during blackhole")
	}
	if err := roundTrip(b, 2*time.Second); err != nil {
		t.Fatalf("other source affected: %v", err)
	}
	p.Clear()
	_ = fresh.SetDeadline(time.Now().Add(2 * time.Second))
	_, err := fresh.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
		t.Fatalf("blackholed connection not closed on heal: %v", err)
	}
	healed := dialFrom(t, "127.0.0.31", p.Addr())
	if err := roundTrip(healed, 2*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestTotalLossCutsConnections(t *testing.T) {
	p := startProxy(t)
	p.Set("127.0.0.31", Rule{Loss: 1})
	c := dialFrom(t, "127.0.0.31", p.Addr())
	if err := roundTrip(c, time.Second); err == nil {
		t.Fatal("connection survived loss 1")
	}
}
