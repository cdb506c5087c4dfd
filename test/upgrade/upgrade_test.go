package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

// baselineCommit is the build members are upgraded from: main when this test was written. Move
// it forward when a release is cut, never past a format change that the current build cannot
// read.
const baselineCommit = "3c407bf"

func TestMain(m *testing.M) { os.Exit(procs.Main(m)) }

// baseline builds (once, into the cache) and returns cairnd at baselineCommit.
func baseline(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("bash", "../../scripts/baseline.sh", baselineCommit)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/baseline.sh %s: %v\n%s", baselineCommit, err, errOut.String())
	}
	bin := strings.TrimSpace(out.String())
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("baseline binary: %v", err)
	}
	return bin
}

// writers put fresh keys through every member in turn and remember each acknowledged one.
type writers struct {
	nodes []*procs.Node
	mu    sync.Mutex
	acked map[string]string
	times []time.Time
}

func (w *writers) run(ctx context.Context, id int) {
	hc := &http.Client{Timeout: 3 * time.Second}
	target := id
	for seq := 0; ctx.Err() == nil; seq++ {
		n := w.nodes[target%len(w.nodes)]
		key, value := fmt.Sprintf("/up/w%d-%05d", id, seq), fmt.Sprintf("v%d-%d", id, seq)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, n.ClientURL()+"/v2/keys"+key,
			strings.NewReader(url.Values{"value": {value}}.Encode()))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			target++ // a member down for its upgrade: go on through another
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			target++
			continue
		}
		w.mu.Lock()
		w.acked[key] = value
		w.times = append(w.times, time.Now())
		w.mu.Unlock()
	}
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitMore waits until n more writes than before were acknowledged.
func (w *writers) waitMore(t *testing.T, n int, why string) {
	t.Helper()
	want := w.count() + n
	deadline := time.Now().Add(30 * time.Second)
	for w.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("writes stopped %s: %d acknowledged, waited for %d", why, w.count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maxGap is the longest time between two acknowledged writes after from.
func (w *writers) maxGap(from time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, at := range w.times {
		if at.Before(from) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return gap
}

// snapshotCount makes members snapshot often, so that a member left behind is sent a snapshot.
const snapshotCount = 1000

// TestRollingUpgrade starts three members on the baseline build, then stops each in turn and
// starts it again on the current build with its data directory, while writers keep going.
// Every acknowledged write must be readable on every member at the end, and writes must never
// stop for longer than a few election timeouts.
//
// While the cluster is half upgraded, its cluster version stays the baseline's: auth requests
// (commands the baseline cannot apply) are refused before anything is proposed, and a baseline
// member left behind catches up from a snapshot the upgraded leader writes in a format it reads
// (halfUpgraded). Once every member is upgraded the cluster version rises and auth works.
func TestRollingUpgrade(t *testing.T) {
	old := baseline(t)
	c := procs.NewCluster(t, 3, procs.Options{Args: []string{fmt.Sprintf("--snapshot-count=%d", snapshotCount)}})
	for _, n := range c.Nodes {
		n.Bin = old
	}
	if err := c.Start(); err != nil {
		t.Fatalf("baseline cluster: %v", err)
	}
	w := &writers{nodes: c.Nodes, acked: map[string]string{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx, i) }()
	}
	defer func() { stop(); wg.Wait() }()
	w.waitMore(t, 50, "on the baseline cluster")

	began := time.Now()
	for i, n := range c.Nodes {
		t.Logf("upgrading %s (%d writes acknowledged so far)", n.Name, w.count())
		if err := n.Stop(); err != nil {
			t.Fatalf("stop %s on the baseline build: %v", n.Name, err)
		}
		w.waitMore(t, 20, "while "+n.Name+" was down")
		n.Bin = "" // the current build (procs.Binary)
		// n3 comes back from the baseline build's stuck state (see halfUpgraded): the leader
		// finds where n3's log ends by stepping its next index back one round trip at a time,
		// across as much of its own log as it holds (raft-wal drops whole segments only), before
		// it sends the snapshot. That took 30-45 s on a loaded 2-core machine.
		timeout := procs.DefaultStartTimeout
		if i == 2 {
			timeout = 3 * time.Minute
		}
		if err := n.Launch(); err != nil {
			t.Fatalf("start %s on the current build: %v", n.Name, err)
		}
		if err := n.WaitHealthy(timeout); err != nil {
			t.Fatalf("start %s on the current build: %v", n.Name, err)
		}
		w.waitMore(t, 20, "after "+n.Name+" came back on the current build")
		checkRunning(t, c)
		switch i {
		case 0:
			// One member upgraded; the leader may be of either build.
			for _, m := range c.Nodes {
				checkCairnCluster(t, m, baselineLevel)
			}
			tryAuth(t, c.Nodes[0], false)
		case 1:
			halfUpgraded(t, c, w)
		}
	}
	checkRunning(t, c)
	waitCairnCluster(t, c, currentLevel)
	stop()
	wg.Wait()
	gap := w.maxGap(began)
	t.Logf("%d writes acknowledged; longest stretch without one during the upgrade: %v", w.count(), gap)
	if gap > 5*time.Second {
		t.Errorf("writes stopped for %v during the upgrade", gap)
	}

	// Nothing acknowledged is lost: each member, now on the current build, has every write.
	for _, n := range c.Nodes {
		got := readAll(t, n)
		missing := 0
		for k, v := range w.acked {
			if got[k] != v {
				if missing < 5 {
					t.Errorf("%s: %s = %q, acknowledged %q", n.Name, k, got[k], v)
				}
				missing++
			}
		}
		if missing > 0 {
			t.Fatalf("%s lost %d of %d acknowledged writes", n.Name, missing, len(w.acked))
		}
	}
	enableAuth(t, c)
	checkRunning(t, c)
}

// The cluster versions /version shows as "cairncluster": the baseline build publishes none and
// counts as level 1; the current build is at level 3 (internal/fsm.CurrentLevel).
const (
	baselineLevel = "1"
	currentLevel  = "3"
)

// halfUpgraded runs with n1 and n2 upgraded and n3 still on the baseline build. It stops n3, so
// that the leader is of the current build, and checks that auth requests are refused there with
// the cluster version as the reason. Then, while n3 is down, it writes enough for the leader's
// log to be compacted past n3's last entry, and restarts n3 on the baseline build: it can catch
// up only from a snapshot of the leader's, which it must be able to restore.
func halfUpgraded(t *testing.T, c *procs.Cluster, w *writers) {
	t.Helper()
	n3 := c.Nodes[2]
	if err := n3.Stop(); err != nil {
		t.Fatalf("stop %s on the baseline build: %v", n3.Name, err)
	}
	w.waitMore(t, 20, "while "+n3.Name+" was down")
	// Every entry n3 has is at or below the index the others have applied now.
	n3Last := raftIndex(t, c.Nodes[0])
	for _, n := range c.Nodes[:2] {
		checkCairnCluster(t, n, baselineLevel)
		tryAuth(t, n, true)
	}

	// The leader sends n3 a snapshot only once its log no longer holds n3's next entry. raft
	// keeps 10240 entries after a snapshot for slow followers (internal/node's TrailingLogs),
	// and the log store (raft-wal) drops entries only a whole 64 MiB segment at a time: fill
	// the segment n3's entries are in with large values, then write past the trailing entries
	// and the next snapshot.
	bigWrites(t, c.Nodes[:2], 72)
	const bulk = 10240 + 2*snapshotCount + 500
	bulkWrite(t, c.Nodes[:2], bulk)
	// Each member compacts its own log after its own snapshots: wait until both have dropped
	// the entries n3 needs (the writers go on), so that whichever leads must send a snapshot.
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range c.Nodes[:2] {
		for compactedTo(n) <= n3Last {
			if time.Now().After(deadline) {
				t.Fatalf("%s compacted its log only to %d, not past %s's last entry %d", n.Name, compactedTo(n), n3.Name, n3Last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The baseline build cannot append after installing a snapshot (its log store hid
	// raft-wal's monotonic appends from raft, fixed in internal/raftnode since), so n3 stays
	// behind until upgraded: what matters here is that it restores the snapshot, which the
	// leader wrote in the format of the cluster version.
	if err := n3.Launch(); err != nil {
		t.Fatalf("restart %s on the baseline build: %v", n3.Name, err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		log := n3.LogTail(1000000)
		if i := strings.Index(log, "failed to restore snapshot"); i >= 0 {
			t.Fatalf("%s (baseline build) could not restore the leader's snapshot:\n%s", n3.Name, log[i:min(len(log), i+500)])
		}
		if strings.Contains(log, "Installed remote snapshot") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (baseline build) was sent no snapshot:\n%s", n3.Name, n3.LogTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if applied, err := appliedIndex(n3); err != nil || applied <= n3Last+10240 {
		t.Fatalf("%s (baseline build) applied index %d after the snapshot, had %d (%v)", n3.Name, applied, n3Last, err)
	}
	checkRunning(t, c)
	checkCairnCluster(t, n3, baselineLevel)
}

// raftIndex is the raft index n has applied (X-Raft-Index).
func raftIndex(t *testing.T, n *procs.Node) uint64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(n.ClientURL() + "/v2/keys/")
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	idx, err := strconv.ParseUint(resp.Header.Get("X-Raft-Index"), 10, 64)
	if err != nil {
		t.Fatalf("%s: X-Raft-Index %q: %v", n.Name, resp.Header.Get("X-Raft-Index"), err)
	}
	return idx
}

// appliedIndex is the raft index n has applied, as its peer port reports it
// (/cairn/peer/v1/liveness, in the baseline build too): n's own, never a leader's.
func appliedIndex(n *procs.Node) (uint64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(n.PeerURL() + "/cairn/peer/v1/liveness")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var l struct {
		Applied uint64 `json:"applied_index"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("liveness: %s %v", resp.Status, err)
	}
	return l.Applied, nil
}

var compactedRE = regexp.MustCompile(`msg="compacting logs".* to=(\d+)`)

// compactedTo is the highest index up to which n has dropped its raft log, as it logged.
func compactedTo(n *procs.Node) uint64 {
	var to uint64
	for _, m := range compactedRE.FindAllStringSubmatch(n.LogTail(1000000), -1) {
		v, _ := strconv.ParseUint(m[1], 10, 64)
		to = max(to, v)
	}
	return to
}

// tryAuth asks n to create the root user and to enable auth, which a half-upgraded cluster must
// refuse. strict: the leader is of the current build, and must refuse with 503 and the cluster
// version as the reason (with a baseline leader the request reaches a build without auth).
// Either way the refusal must change nothing: n still has no users and auth stays disabled.
func tryAuth(t *testing.T, n *procs.Node, strict bool) {
	t.Helper()
	for _, req := range []struct{ path, body string }{
		{"/v2/auth/users/root", `{"user":"root","password":"upgrade"}`},
		{"/v2/auth/enable", ""},
	} {
		status, body := do(t, n, http.MethodPut, req.path, req.body)
		if status/100 == 2 {
			t.Fatalf("%s: PUT %s in a half-upgraded cluster: %d %s", n.Name, req.path, status, body)
		}
		if strict && (status != http.StatusServiceUnavailable || !strings.Contains(body, "cluster version too low")) {
			t.Fatalf("%s: PUT %s in a half-upgraded cluster: %d %s, want 503 for the cluster version", n.Name, req.path, status, body)
		}
		t.Logf("%s: PUT %s refused: %d %s", n.Name, req.path, status, body)
	}
	if status, body := do(t, n, http.MethodGet, "/v2/auth/users", ""); status != http.StatusOK || strings.Contains(body, "root") {
		t.Fatalf("%s: users after the refusals: %d %s", n.Name, status, body)
	}
	if status, body := do(t, n, http.MethodGet, "/v2/auth/enable", ""); status != http.StatusOK || !strings.Contains(body, "false") {
		t.Fatalf("%s: auth status after the refusals: %d %s", n.Name, status, body)
	}
}

// checkCairnCluster checks the cluster version n's /version shows: a baseline member shows
// none, and counts as the baseline level.
func checkCairnCluster(t *testing.T, n *procs.Node, want string) {
	t.Helper()
	if got := cairnCluster(t, n); got != want && !(got == "" && n.Bin != "" && want == baselineLevel) {
		t.Fatalf("%s (%s): cairncluster %q, want %q", n.Name, build(n), got, want)
	}
}

func build(n *procs.Node) string {
	if n.Bin != "" {
		return "baseline build"
	}
	return "current build"
}

func cairnCluster(t *testing.T, n *procs.Node) string {
	t.Helper()
	status, body := do(t, n, http.MethodGet, "/version", "")
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); err != nil || status != http.StatusOK || v["etcdcluster"] == "" {
		t.Fatalf("%s: /version: %d %s (%v)", n.Name, status, body, err)
	}
	return v["cairncluster"]
}

// waitCairnCluster waits until every member shows the cluster version want, then checks that
// auth, refused before, now works: the root user is created and auth enabled on every member.
func waitCairnCluster(t *testing.T, c *procs.Cluster, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.Nodes {
		for cairnCluster(t, n) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: cairncluster %q after the upgrade, want %q", n.Name, cairnCluster(t, n), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if status, body := do(t, c.Nodes[0], http.MethodPut, "/v2/auth/users/root", `{"user":"root","password":"upgrade"}`); status != http.StatusCreated {
		t.Fatalf("create root after the upgrade: %d %s", status, body)
	}
}

// enableAuth turns auth on through n and checks every member applied it.
func enableAuth(t *testing.T, c *procs.Cluster) {
	t.Helper()
	if status, body := do(t, c.Nodes[1], http.MethodPut, "/v2/auth/enable", ""); status != http.StatusOK {
		t.Fatalf("enable auth after the upgrade: %d %s", status, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range c.Nodes {
		for {
			status, body := do(t, n, http.MethodGet, "/v2/auth/enable", "")
			if status == http.StatusOK && strings.Contains(body, "true") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: auth status %d %s after enabling it", n.Name, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// checkRunning fails when a member has exited (crashed) or logged that it could not apply an
// entry or restore a snapshot.
func checkRunning(t *testing.T, c *procs.Cluster) {
	t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			t.Fatalf("%s (%s) is not running:\n%s", n.Name, build(n), n.LogTail(30))
		}
		log := n.LogTail(100000)
		for _, bad := range []string{"panic", "unknown type", "unknown version", "unknown encoding",
			"failed to restore snapshot", "malformed command"} {
			if i := strings.Index(log, bad); i >= 0 {
				t.Fatalf("%s (%s) logged %q:\n%s", n.Name, build(n), bad, log[max(0, i-500):min(len(log), i+500)])
			}
		}
	}
}

func do(t *testing.T, n *procs.Node, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.ClientURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", n.Name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// bigWrites overwrites one key n times with a value of 1 MiB (the default limit), through
// nodes: n MiB of raft log, and a store that stays small.
func bigWrites(t *testing.T, nodes []*procs.Node, n int) {
	t.Helper()
	body := "value=" + strings.Repeat("x", 1<<20)
	hc := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		for attempt := 0; ; attempt++ {
			target := nodes[attempt%len(nodes)]
			req, _ := http.NewRequest(http.MethodPut, target.ClientURL()+"/v2/keys/big", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := hc.Do(req)
			if err == nil {
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					break
				}
				err = fmt.Errorf("%s: %.200s", resp.Status, msg)
			}
			if attempt == 20 {
				t.Fatalf("large write %d: %v", i, err)
			}
		}
	}
}

// bulkWrite puts n keys under /bulk through nodes, many at a time.
func bulkWrite(t *testing.T, nodes []*procs.Node, n int) {
	t.Helper()
	began := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				for attempt := 0; ; attempt++ {
					target := nodes[(g+attempt)%len(nodes)]
					req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/keys/bulk/k%05d", target.ClientURL(), i),
						strings.NewReader("value=x"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := hc.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode/100 == 2 {
							break
						}
					}
					if attempt == 20 {
						failed.Add(1)
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d bulk writes failed", f, n)
	}
	t.Logf("%d bulk writes in %v", n, time.Since(began))
}

// countKeys counts the keys directly under dir, read from n itself (serializable).
func countKeys(n *procs.Node, dir string) (int, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(n.ClientURL() + "/v2/keys" + dir + "?consistency=serializable")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Node struct {
			Nodes []json.RawMessage `json:"nodes"`
		} `json:"node"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	return len(body.Node.Nodes), nil
}

// readAll reads /up recursively from n with a linearizable (quorum) read.
func readAll(t *testing.T, n *procs.Node) map[string]string {
	t.Helper()
	resp, err := http.Get(n.ClientURL() + "/v2/keys/up?recursive=true&quorum=true")
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	defer resp.Body.Close()
	var body struct {
		Node struct {
			Nodes []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"nodes"`
		} `json:"node"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %v", n.Name, resp.Status, err)
	}
	out := map[string]string{}
	for _, kv := range body.Node.Nodes {
		out[kv.Key] = kv.Value
	}
	return out
}
