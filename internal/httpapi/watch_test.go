package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

func storeWatchers(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/v2/stats/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Watchers int `json:"watchers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Watchers
}

// A client that hangs up frees its watcher at once: the store holds no watcher for a long poll
// nobody waits on any more.
func TestHungUpWatchersAreFreed(t *testing.T) {
	c := testcluster.New(t, 1)
	base := c.Members[0].ClientURL
	const n = 200
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v2/keys/idle/%d?wait=true", base, i), nil)
			// The headers come back at once; the body blocks until an event or the hang-up.
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else if ctx.Err() == nil {
				t.Errorf("watch %d: %v", i, err)
			}
		}()
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if w := storeWatchers(t, base); w != n {
			return fmt.Errorf("%d watchers registered, want %d", w, n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	testcluster.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if w := storeWatchers(t, base); w != 0 {
			return fmt.Errorf("%d watchers still held after the clients left", w)
		}
		return nil
	})
}

// A long poll returns as soon as the event happens, with the watch's start index in the headers.
func TestLongPollReturnsOnEvent(t *testing.T) {
	c := testcluster.New(t, 1)
	base := c.Members[0].ClientURL
	first, err := c.Put(0, "/lp", "a")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		resp *http.Response
		body map[string]any
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/v2/keys/lp?wait=true")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b map[string]any
		err = json.NewDecoder(resp.Body).Decode(&b)
		done <- result{resp, b, err}
	}()
	testcluster.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if storeWatchers(t, base) != 1 {
			return fmt.Errorf("watch not registered yet")
		}
		return nil
	})
	if _, err := c.Put(0, "/lp", "b"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := r.resp.Header.Get("X-Etcd-Index"); got != fmt.Sprint(first.Node.ModifiedIndex) {
			t.Fatalf("X-Etcd-Index %s, want the index at watch start %d", got, first.Node.ModifiedIndex)
		}
		if node := r.body["node"].(map[string]any); node["value"] != "b" {
			t.Fatalf("event %v", r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return after the write")
	}
}
