package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

// A stream watch on a follower delivers every write in order across a change of leader; if its
// stream ends, resuming from the next index loses nothing.
func TestWatchOnFollowerAcrossLeaderChange(t *testing.T) {
	c := testcluster.New(t, 3)
	l := c.WaitLeader(t)
	var f *testcluster.Member
	for _, m := range c.Followers() {
		f = m
		break
	}
	first, err := c.Put(l.Index, "/watched/k", "0")
	if err != nil {
		t.Fatal(err)
	}
	const total = 40
	got := make(chan uint64, 2*total)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		next := first.Node.ModifiedIndex
		for ctx.Err() == nil {
			u := fmt.Sprintf("%s/v2/keys/watched?wait=true&stream=true&recursive=true&waitIndex=%d", f.ClientURL, next)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var ev struct {
					Node struct {
						ModifiedIndex uint64 `json:"modifiedIndex"`
					} `json:"node"`
				}
				if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Node.ModifiedIndex > 0 {
					got <- ev.Node.ModifiedIndex
					next = ev.Node.ModifiedIndex + 1
				}
			}
			resp.Body.Close()
		}
	}()
	var written []uint64
	written = append(written, first.Node.ModifiedIndex)
	for i := 1; i < total; i++ {
		if i == total/2 {
			c.Kill(l.Index)
			c.WaitLeader(t)
		}
		var r *testcluster.Response
		testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
			var err error
			r, err = c.Put(f.Index, "/watched/k", fmt.Sprint(i))
			return err
		})
		written = append(written, r.Node.ModifiedIndex)
	}
	var seen []uint64
	deadline := time.After(15 * time.Second)
	for len(seen) < len(written) {
		select {
		case idx := <-got:
			if len(seen) > 0 && idx <= seen[len(seen)-1] {
				t.Fatalf("event %d after %d: out of order or repeated", idx, seen[len(seen)-1])
			}
			seen = append(seen, idx)
		case <-deadline:
			t.Fatalf("watch saw %d of %d events: %v, want %v", len(seen), len(written), seen, written)
		}
	}
	for i := range written {
		if seen[i] != written[i] {
			t.Fatalf("watch events %v, writes %v", seen, written)
		}
	}
}
