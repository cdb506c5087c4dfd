package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

type ackedWrite struct {
	key, value string
	index      uint64
}

type keyEvent struct {
	Action string `json:"action"`
	Node   struct {
		Key           string     `json:"key"`
		Value         string     `json:"value"`
		Expiration    *time.Time `json:"expiration"`
		TTL           int64      `json:"ttl"`
		ModifiedIndex uint64     `json:"modifiedIndex"`
	} `json:"node"`
}

// putKey writes through a shared keep-alive client; an error means "not
// acknowledged", which the crash test is allowed to lose.
func putKey(hc *http.Client, base, key string, form url.Values) (keyEvent, error) {
	var ev keyEvent
	req, err := http.NewRequest(http.MethodPut, base+"/v2/keys"+key, strings.NewReader(form.Encode()))
	if err != nil {
		return ev, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return ev, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ev, err
	}
	if resp.StatusCode/100 != 2 {
		return ev, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return ev, json.Unmarshal(b, &ev)
}

func getKey(t *testing.T, base, key string) (int, keyEvent) {
	t.Helper()
	resp, b := do(t, http.MethodGet, base+"/v2/keys"+key, nil)
	var ev keyEvent
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("GET %s: %v: %s", key, err, b)
		}
	}
	return resp.StatusCode, ev
}

// TestCrashKeepsAcknowledgedWrites: every write acknowledged before
// `kill -9` is there after a restart on the same data dir, with its value
// and modifiedIndex.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	const clients, perClient = 8, 250
	n := procs.StartNode(t, procs.Options{})
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var (
		mu    sync.Mutex
		acked []ackedWrite
		wg    sync.WaitGroup
		errs  = make(chan error, clients)
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				key := fmt.Sprintf("/crash/c%d/k%04d", c, i)
				val := fmt.Sprintf("v-%d-%d", c, i)
				ev, err := putKey(hc, n.ClientURL(), key, url.Values{"value": {val}})
				if err != nil {
					errs <- fmt.Errorf("%s: %v", key, err)
					return
				}
				mu.Lock()
				acked = append(acked, ackedWrite{key, val, ev.Node.ModifiedIndex})
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write before the crash failed: %v", err)
	}
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	var maxIndex uint64
	seen := map[uint64]string{}
	for _, w := range acked {
		code, ev := getKey(t, n.ClientURL(), w.key)
		if code != http.StatusOK || ev.Node.Value != w.value || ev.Node.ModifiedIndex != w.index {
			t.Errorf("acknowledged %s=%s@%d; after kill -9 and restart: %d %q@%d", w.key, w.value, w.index, code, ev.Node.Value, ev.Node.ModifiedIndex)
		}
		if other, dup := seen[w.index]; dup {
			t.Errorf("index %d acknowledged for both %s and %s", w.index, other, w.key)
		}
		seen[w.index] = w.key
		maxIndex = max(maxIndex, w.index)
		if t.Failed() {
			return
		}
	}
	if idx := etcdIndex(t, n); idx < maxIndex {
		t.Errorf("X-Etcd-Index %d after restart is below the last acknowledged write %d", idx, maxIndex)
	}
	if len(acked) != clients*perClient {
		t.Fatalf("acknowledged %d writes, want %d", len(acked), clients*perClient)
	}
}

// TestCrashKeepsRemainingTTL: a TTL key written before `kill -9` keeps its
// expiration time (not reset by the restart) and is neither dropped early
// nor kept past it.
func TestCrashKeepsRemainingTTL(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	hc := &http.Client{Timeout: 10 * time.Second}
	long, err := putKey(hc, n.ClientURL(), "/ttl/long", url.Values{"value": {"l"}, "ttl": {"60"}})
	if err != nil {
		t.Fatal(err)
	}
	short, err := putKey(hc, n.ClientURL(), "/ttl/short", url.Values{"value": {"s"}, "ttl": {"6"}})
	if err != nil {
		t.Fatal(err)
	}
	if long.Node.Expiration == nil || short.Node.Expiration == nil {
		t.Fatalf("no expiration in replies: %+v %+v", long, short)
	}
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}

	code, ev := getKey(t, n.ClientURL(), "/ttl/long")
	if code != http.StatusOK || ev.Node.Expiration == nil {
		t.Fatalf("/ttl/long after restart: %d %+v", code, ev)
	}
	if !ev.Node.Expiration.Equal(*long.Node.Expiration) {
		t.Errorf("expiration moved across the restart: %v -> %v", long.Node.Expiration, ev.Node.Expiration)
	}
	remaining := time.Until(*long.Node.Expiration).Seconds()
	if float64(ev.Node.TTL) < remaining-2 || float64(ev.Node.TTL) > remaining+2 {
		t.Errorf("ttl %d after restart, want about %.1f (not reset to 60)", ev.Node.TTL, remaining)
	}

	// The short key is still there while its expiration is ahead (with
	// margin for clock granularity), then goes within a few seconds of it.
	exp := *short.Node.Expiration
	if time.Until(exp) > time.Second {
		if code, _ := getKey(t, n.ClientURL(), "/ttl/short"); code != http.StatusOK {
			t.Errorf("/ttl/short gone %v before its expiration", time.Until(exp))
		}
	}
	waitFor(t, time.Until(exp)+10*time.Second, "/ttl/short to expire", func() (bool, string) {
		code, ev := getKey(t, n.ClientURL(), "/ttl/short")
		return code == http.StatusNotFound, fmt.Sprintf("%d %+v", code, ev)
	})
	if early := time.Until(exp); early > time.Second {
		t.Errorf("/ttl/short expired %v early", early)
	}
	if code, _ := getKey(t, n.ClientURL(), "/ttl/long"); code != http.StatusOK {
		t.Errorf("/ttl/long expired with /ttl/short")
	}
}
