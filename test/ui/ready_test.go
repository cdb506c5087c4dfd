package ui

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

// TestDashboardBeforeReady: a member that cannot reach the rest of its cluster serves the
// dashboard at once, with its policy, while its keys API waits for the cluster.
func TestDashboardBeforeReady(t *testing.T) {
	c := procs.NewCluster(t, 3, procs.Options{})
	n := c.Nodes[0]
	if err := n.Launch(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(n.ClientURL() + "/ui/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `src="app.js"`) ||
				!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Fatalf("/ui/ before the cluster is up: %d %v %q", resp.StatusCode, resp.Header, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ui/ did not answer within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The keys API, by contrast, holds the request: the member has not joined.
	resp, err := client.Get(n.ClientURL() + "/v2/keys/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("/v2/keys answered 200 on a member without a cluster")
		}
	}
}
