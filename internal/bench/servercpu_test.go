package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
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

func TestParseStatusSwitches(t *testing.T) {
	status := "Name:\tcairnd\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n"
	s, err := parseStatusSwitches(status)
	if err != nil || s != (Switches{Voluntary: 1234, Involuntary: 56}) || s.Total() != 1290 {
		t.Fatalf("parseStatusSwitches = %+v, %v; want 1234 and 56", s, err)
	}
	for _, bad := range []string{"", "Name:\tx\nvoluntary_ctxt_switches:\t1\n", "voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t2\n"} {
		if _, err := parseStatusSwitches(bad); err == nil {
			t.Errorf("parseStatusSwitches(%q) accepted", bad)
		}
	}
}

// A thread of this process that sleeps and wakes a hundred times leaves the CPU at
// least a hundred times; a sum that read the main thread's status only would miss it.
func TestProcessSwitchesCountsEveryThread(t *testing.T) {
	before, err := ProcessSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	slept, release := make(chan struct{}), make(chan struct{})
	go func() {
		// A thread of its own, never the main one. It stays until after the second reading:
		// a thread that exits takes its counts out of the sum.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for range 100 {
			time.Sleep(200 * time.Microsecond)
		}
		close(slept)
		<-release
	}()
	<-slept
	after, err := ProcessSwitches(os.Getpid())
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if after.Voluntary < before.Voluntary+100 {
		t.Fatalf("voluntary switches %d then %d across 100 sleeps", before.Voluntary, after.Voluntary)
	}
	if _, err := ProcessSwitches(1 << 30); err == nil {
		t.Fatal("a pid that does not exist was read")
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
	t.Logf("etcd: %.2f switches/op, %.2f preemptions/op", res.ServerSwitchesPerOp, res.ServerPreemptionsPerOp)
	// Every write blocks etcd in at least one fsync and one read of the next request.
	if res.ServerSwitchesPerOp < 1 || res.ServerPreemptionsPerOp > res.ServerSwitchesPerOp {
		t.Fatalf("servers' switches %.2f/op, preemptions %.2f/op", res.ServerSwitchesPerOp, res.ServerPreemptionsPerOp)
	}
}
