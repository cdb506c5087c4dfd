package procs

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/ports"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func put(t *testing.T, n *Node, key, value string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, n.ClientURL()+"/v2/keys/"+key,
		strings.NewReader(url.Values{"value": {value}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", key, resp.Status)
	}
}

func get(t *testing.T, n *Node, key string) (int, string) {
	t.Helper()
	resp, err := http.Get(n.ClientURL() + "/v2/keys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestKillAndStartKeepsData(t *testing.T) {
	n := StartNode(t, Options{})
	put(t, n, "procs/a", "1")
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if n.Running() {
		t.Fatal("running after Kill")
	}
	if _, err := http.Get(n.ClientURL() + "/health"); err == nil {
		t.Fatal("client port still answers after Kill")
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, n, "procs/a"); code != 200 || !strings.Contains(body, `"value":"1"`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

func TestStopIsGracefulAndRestartWorks(t *testing.T) {
	n := StartNode(t, Options{})
	put(t, n, "procs/b", "2")
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	st := n.ExitState()
	if st == nil {
		t.Fatal("no exit state after Stop")
	}
	// etcd re-raises SIGTERM after cleaning up; cairnd must exit 0.
	if !IsEtcd() && !st.Success() {
		t.Fatalf("cairnd exit after SIGTERM: %v", st)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, n, "procs/b"); code != 200 || !strings.Contains(body, `"value":"2"`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if !strings.Contains(n.LogTail(1000), "launch 2 of n1") {
		t.Fatalf("log does not record the second launch:\n%s", n.LogTail(20))
	}
}

func TestStartReportsEarlyExit(t *testing.T) {
	c := NewCluster(t, 1, Options{Args: []string{"--no-such-flag-procs"}, StartTimeout: 20 * time.Second})
	began := time.Now()
	err := c.Start()
	if err == nil {
		t.Fatal("start with an unknown flag succeeded")
	}
	if !strings.Contains(err.Error(), "exited") {
		t.Fatalf("want an early-exit error, got %v", err)
	}
	if time.Since(began) > 15*time.Second {
		t.Fatalf("early exit noticed only after %v", time.Since(began))
	}
	if c.Nodes[0].Running() {
		t.Fatal("node reported running")
	}
}

func TestClusterElectsOneLeaderAndSurvivesLeaderKill(t *testing.T) {
	c := StartCluster(t, 3, Options{})
	leader, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Followers(leader)); got != 2 {
		t.Fatalf("followers: %d", got)
	}
	put(t, leader, "procs/c", "3")
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	next, err := c.WaitLeader(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatal("killed node still reported as leader")
	}
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, leader, "procs/c"); code != 200 || !strings.Contains(body, `"value":"3"`) {
		t.Fatalf("restarted old leader: %d %s", code, body)
	}
}

// A paused process still counts as running, answers nothing, and stops at once on SIGTERM:
// Stop continues it first, or the signal would wait until someone did.
func TestProcessPauseResumeStop(t *testing.T) {
	n := StartNode(t, Options{})
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if !n.Running() {
		t.Fatal("a paused process does not count as running")
	}
	hc := http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := hc.Get(n.ClientURL() + "/health"); err == nil {
		resp.Body.Close()
		t.Fatal("a paused process answered")
	}
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitHealthy(10 * time.Second); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatalf("stop of a paused process: %v", err)
	}
	if n.Running() {
		t.Fatal("still running after Stop")
	}
}

// A port taken between FreePort and the process binding it makes the process exit; Start
// launches it again until the port is free, as a restart would have to.
func TestStartRetriesATakenPort(t *testing.T) {
	n := NewCluster(t, 1, Options{}).Nodes[0]
	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", n.clientPort))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- n.Start() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(n.LogTail(50), ports.InUseText) {
		if time.Now().After(deadline) {
			taken.Close()
			t.Fatalf("the process never reported its port in use:\n%s", n.LogTail(50))
		}
		time.Sleep(20 * time.Millisecond)
	}
	taken.Close()
	if err := <-started; err != nil {
		t.Fatalf("start after the port came free: %v", err)
	}
	put(t, n, "procs/retry", "1")
}
