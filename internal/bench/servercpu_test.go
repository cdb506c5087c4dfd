package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50 ticks.
	line := "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 0 0 18446744073709551615"
	d, err := parseStatCPU(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 ten 12"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestProcessCPUSeesBusyWork(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		x++
	}
	after, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("cpu %v then %v after 200 ms of busy work (%d)", before, after, x)
	}
}

func TestListenerPIDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pids, err := ListenerPIDs([]string{"http://" + ln.Addr().String()})
	if err != nil || !slices.Equal(pids, []int{os.Getpid()}) {
		t.Fatalf("ListenerPIDs = %v, %v; want this process %d", pids, err, os.Getpid())
	}
	ln.Close()
	if _, err := ListenerPIDs([]string{"http://" + ln.Addr().String()}); !errors.Is(err, ErrNoServerPIDs) {
		t.Fatalf("closed port: %v", err)
	}
	if _, err := ListenerPIDs([]string{"http://no-port"}); err == nil {
		t.Fatal("an endpoint without a port was accepted")
	}
}

// Against a real etcd: its process is found from its client port, and a run
// reports its CPU per operation apart from the generator's.
func TestServerCPUPerOperation(t *testing.T) {
	ep := startEtcd(t)
	pids, err := ListenerPIDs([]string{ep})
	if err != nil || len(pids) != 1 {
		t.Fatalf("ListenerPIDs(%s) = %v, %v", ep, pids, err)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pids[0])); strings.TrimSpace(string(comm)) != "etcd" {
		t.Fatalf("pid %d listening on %s is %q, not etcd", pids[0], ep, comm)
	}
	c := DefaultConfig()
	c.Workload, c.Endpoints, c.KeyPrefix = Put, []string{ep}, "/cpu"
	c.Clients, c.KeyCount, c.ValueSize, c.Total = 4, 50, 64, 300
	c.ServerPIDs = pids
	res, err := Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ServerCPUPerOp <= 0 || res.ServerCores <= 0 || !slices.Equal(res.ServerPIDs, pids) || res.ClientCPUPerOp <= 0 {
		t.Fatalf("servers %.1f µs/op, %.2f cores, pids %v; generator %.1f µs/op", res.ServerCPUPerOp, res.ServerCores,
			res.ServerPIDs, res.ClientCPUPerOp)
	}
}
