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
	"strings"
	"sync"
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

// TestRollingUpgrade starts three members on the baseline build, then stops each in turn and
// starts it again on the current build with its data directory, while writers keep going.
// Every acknowledged write must be readable on every member at the end, and writes must never
// stop for longer than a few election timeouts.
func TestRollingUpgrade(t *testing.T) {
	old := baseline(t)
	c := procs.NewCluster(t, 3, procs.Options{})
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
	for _, n := range c.Nodes {
		t.Logf("upgrading %s (%d writes acknowledged so far)", n.Name, w.count())
		if err := n.Stop(); err != nil {
			t.Fatalf("stop %s on the baseline build: %v", n.Name, err)
		}
		w.waitMore(t, 20, "while "+n.Name+" was down")
		n.Bin = "" // the current build (procs.Binary)
		if err := n.Start(); err != nil {
			t.Fatalf("start %s on the current build: %v", n.Name, err)
		}
		w.waitMore(t, 20, "after "+n.Name+" came back on the current build")
	}
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
