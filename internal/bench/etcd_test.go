package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/ports"
)

// startEtcd runs a single-member etcd with the v2 API on free loopback ports
// and stops it when the test ends.
func startEtcd(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		// scripts/deps.sh installs it before `make test`: a missing etcd is a broken setup, not a pass.
		t.Fatal("etcd binary not found in PATH: run scripts/deps.sh (Debian package etcd-server)")
	}
	var client string
	// Ports chosen free may be taken before etcd binds them: start again on new ones.
	if err := ports.Retry(time.Minute, func() error {
		var err error
		client, err = launchEtcd(t, bin)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return client
}

// launchEtcd starts etcd on two fresh ports and waits until it serves the v2 API; the process
// is stopped when the test ends.
func launchEtcd(t testing.TB, bin string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	var urls [2]string
	for i := range urls {
		p, err := ports.Free("127.0.0.1")
		if err != nil {
			return "", err
		}
		urls[i] = fmt.Sprintf("http://127.0.0.1:%d", p)
	}
	client, peer := urls[0], urls[1]
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--name", "b1", "--data-dir", filepath.Join(dir, "data"), "--enable-v2=true",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "b1="+peer, "--initial-cluster-token", "bench-test")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(client + "/v2/keys/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return client, nil
			}
		}
		select {
		case err := <-exited:
			exited <- err // the cleanup waits on it too
			log, _ := os.ReadFile(logf.Name())
			return "", fmt.Errorf("etcd exited: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", errors.New("etcd did not serve /v2/keys within 20s")
		}
	}
}

func TestWorkloadsAgainstRealEtcd(t *testing.T) {
	ep := startEtcd(t)
	base := func(w Workload, prefix string) Config {
		c := DefaultConfig()
		c.Workload, c.Endpoints, c.KeyPrefix = w, []string{ep}, prefix
		c.Clients, c.KeyCount, c.ValueSize = 4, 50, 64
		return c
	}
	run := func(t *testing.T, c Config) *Result {
		t.Helper()
		res, err := Run(context.Background(), c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("put total", func(t *testing.T) {
		c := base(Put, "/t-put")
		c.Total = 300
		res := run(t, c)
		if res.Ops != 300 || res.ErrTotal != 0 || res.Latency.Count != 300 {
			t.Fatalf("ops %d errors %v latencies %d, want exactly 300 clean puts", res.Ops, res.Errors, res.Latency.Count)
		}
	})
	for _, w := range []Workload{Get, SGet, Mixed} {
		t.Run(string(w)+" preloaded", func(t *testing.T) {
			c := base(w, "/t-"+string(w))
			c.Duration = 300 * time.Millisecond
			res := run(t, c)
			if res.Ops == 0 || res.ErrTotal != 0 || res.OpsPerSec <= 0 {
				t.Fatalf("ops %d errors %v", res.Ops, res.Errors)
			}
		})
	}
	t.Run("missing keys counted by etcd code", func(t *testing.T) {
		c := base(Get, "/t-missing")
		c.Preload, c.Total = false, 40
		res := run(t, c)
		if res.Ops != 0 || res.Errors["etcd-100"] != 40 || res.ErrTotal != 40 {
			t.Fatalf("ops %d errors %v, want 40 etcd-100", res.Ops, res.Errors)
		}
	})
	t.Run("sequential keys written once each", func(t *testing.T) {
		c := base(Put, "/t-seq")
		c.KeyOrder, c.Total = Sequential, int64(c.KeyCount)
		run(t, c)
		resp, err := http.Get(ep + "/v2/keys/t-seq")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if got := strings.Count(b.String(), `"key":"/t-seq/k`); got != c.KeyCount {
			t.Fatalf("directory holds %d keys, want %d", got, c.KeyCount)
		}
	})
	t.Run("cas", func(t *testing.T) {
		c := base(CAS, "/t-cas")
		c.KeyCount, c.Total = 8, 200
		res := run(t, c)
		// A stale prevIndex would fail with etcd-101: all 200 must succeed.
		if res.Ops != 200 || res.ErrTotal != 0 {
			t.Fatalf("ops %d errors %v", res.Ops, res.Errors)
		}
	})
	for _, mode := range []string{"stream", "longpoll"} {
		t.Run("watch "+mode, func(t *testing.T) {
			c := base(Watch, "/t-watch-"+mode)
			c.Watchers, c.Total, c.Rate, c.WatchMode = 3, 40, 400, mode
			c.WatchPrefix = mode == "longpoll"
			res := run(t, c)
			if res.Writes != 40 || res.Ops != 120 || res.ErrTotal != 0 {
				t.Fatalf("writes %d delivered %d errors %v, want 40 writes seen by 3 watchers", res.Writes, res.Ops, res.Errors)
			}
			if res.Latency.P50 <= 0 || res.Latency.Max > 5000 {
				t.Fatalf("delivery latency %+v", res.Latency)
			}
		})
	}
}

// BenchmarkConnGet shows the generator's own cost per request (allocations and
// CPU) against a real etcd, for both request paths (allocs/op is the client's
// alone: etcd is another process): go test -run x -bench ConnGet ./internal/bench
func BenchmarkConnGet(b *testing.B) {
	ep := startEtcd(b)
	for _, impl := range []HTTPImpl{RawHTTP, StdlibHTTP} {
		b.Run(string(impl), func(b *testing.B) {
			cl, err := NewClient([]string{ep}, 1, time.Second, impl, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			c := cl.NewConn(context.Background(), 0)
			form := append([]byte("value="), Value(newRand(1), 256)...)
			if _, err := c.Do(http.MethodPut, "/b/k", "", form); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := c.Do(http.MethodGet, "/b/k", "", nil)
				if err != nil || resp.Status != http.StatusOK {
					b.Fatalf("status %d err %v", resp.Status, err)
				}
			}
		})
	}
}
