package compat

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

func TestMain(m *testing.M) { os.Exit(procs.Main(m)) }

var httpc = &http.Client{Timeout: 30 * time.Second}

// do sends one request; a non-nil form becomes an urlencoded body.
func do(t *testing.T, method, u string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp, b
}

// etcdIndex is the store index a GET of the root reports.
func etcdIndex(t *testing.T, n *procs.Node) uint64 {
	t.Helper()
	resp, _ := do(t, http.MethodGet, n.ClientURL()+"/v2/keys/", nil)
	i, err := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	if err != nil {
		t.Fatalf("X-Etcd-Index %q: %v", resp.Header.Get("X-Etcd-Index"), err)
	}
	return i
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchers reads the live watcher count from /v2/stats/store, which is how
// a test knows a watch is registered before it writes.
func watchers(t *testing.T, n *procs.Node) (int, string) {
	t.Helper()
	_, b := do(t, http.MethodGet, n.ClientURL()+"/v2/stats/store", nil)
	s := string(b)
	i := strings.Index(s, `"watchers":`)
	if i < 0 {
		return -1, s
	}
	var w int
	fmt.Sscanf(s[i+len(`"watchers":`):], "%d", &w)
	return w, s
}

func waitWatchers(t *testing.T, n *procs.Node, want int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d watchers", want), func() (bool, string) {
		w, s := watchers(t, n)
		return w >= want, s
	})
}
