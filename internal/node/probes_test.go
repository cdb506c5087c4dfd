package node_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func withMetricsPort() testcluster.Option {
	return testcluster.WithConfig(func(_ int, c *node.Config) {
		c.ListenMetricsURLs = []string{"http://127.0.0.1:0"}
	})
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func metricsURL(t *testing.T, m *testcluster.Member) string {
	t.Helper()
	n := m.Node()
	if n == nil {
		t.Fatalf("%s is not running", m.Name)
	}
	urls := n.MetricsURLs()
	if len(urls) != 1 {
		t.Fatalf("%s metrics URLs: %v", m.Name, urls)
	}
	return urls[0]
}

// expect polls url until it answers status with a body containing want.
func expect(t *testing.T, url string, status int, want string) {
	t.Helper()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		code, body, err := httpGet(url)
		if err != nil {
			return err
		}
		if code != status || !strings.Contains(body, want) {
			return fmt.Errorf("GET %s: %d %q, want %d containing %q", url, code, body, status, want)
		}
		return nil
	})
}

// The metrics port serves the scrape and the probes in plain HTTP, and nothing of the client API.
func TestMetricsPortServesMetricsAndProbes(t *testing.T) {
	c := testcluster.New(t, 3, withMetricsPort())
	c.WaitLeader(t)
	for _, m := range c.Members {
		base := metricsURL(t, m)
		expect(t, base+"/metrics", 200, "go_goroutines")
		expect(t, base+"/health", 200, `{"health":"true"}`)
		expect(t, base+"/livez", 200, "ok")
		expect(t, base+"/readyz", 200, "ok")
		expect(t, base+"/readyz?verbose", 200, "[+]caught_up ok")
		expect(t, base+"/livez?verbose", 200, "[+]serializable_read ok")
		expect(t, base+"/v2/keys/x", 404, "")
		// Beside /health on the client port too.
		expect(t, m.ClientURL+"/livez", 200, "ok")
		expect(t, m.ClientURL+"/readyz", 200, "ok")
	}
}

// A member without a leader is alive but not ready; it is ready again once a leader is back.
func TestReadyzNeedsALeader(t *testing.T) {
	c := testcluster.New(t, 3, withMetricsPort())
	c.WaitLeader(t)
	if _, err := c.Put(0, "/ready/a", "1"); err != nil {
		t.Fatal(err)
	}
	c.Kill(1)
	c.Kill(2)
	base := metricsURL(t, c.Members[0])
	expect(t, base+"/readyz", 503, "[-]leader failed: no leader")
	expect(t, c.Members[0].ClientURL+"/readyz", 503, "readyz check failed")
	expect(t, base+"/livez", 200, "ok")
	expect(t, base+"/health", 503, `{"health":"false"}`)

	// A restarted member is not ready before it has a leader either.
	c.Restart(1)
	expect(t, base+"/readyz", 200, "ok")
	expect(t, metricsURL(t, c.Members[1])+"/readyz", 200, "ok")
}

func TestMetricsURLMustBePlainHTTP(t *testing.T) {
	cfg := node.Config{Name: "m", DataDir: t.TempDir(), ListenMetricsURLs: []string{"https://127.0.0.1:0"}}
	cfg.Defaults()
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--listen-metrics-urls") {
		t.Fatalf("https metrics URL: got %v, want an error naming --listen-metrics-urls", err)
	}
}
