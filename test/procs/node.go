package procs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Defaults for waiting on processes. They bound waits that poll; nothing
// sleeps for these durations.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 15 * time.Second
	logTailLines        = 80
)

// ErrNotRunning is returned by operations that need a live process.
var ErrNotRunning = errors.New("procs: node is not running")

// Node is one server process with a fixed name, ports and data directory
// that survive Kill/Stop/Start, so a restart finds its own state.
type Node struct {
	*Process
	DataDir string

	clientPort, peerPort int
	tls                  *TLS
	startTimeout         time.Duration
	tb                   testing.TB
}

// ClientURL is the node's advertised client URL (http://127.0.0.1:port, https:// with
// Options.TLS.Client).
func (n *Node) ClientURL() string {
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme(n.tls != nil && n.tls.Client), n.clientPort)
}

// PeerURL is the node's advertised peer URL.
func (n *Node) PeerURL() string {
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme(n.tls != nil && n.tls.Peer), n.peerPort)
}

func scheme(secure bool) string {
	if secure {
		return "https"
	}
	return "http"
}

// HTTPClient is a client for the node's client URL: with Options.TLS it uses
// Options.TLS.ClientConfig.
func (n *Node) HTTPClient() *http.Client { return n.Process.httpClient() }

// Start launches the process and waits until /health says it is healthy.
func (n *Node) Start() error {
	if err := n.Launch(); err != nil {
		return err
	}
	return n.WaitHealthy(n.startTimeout)
}

// WaitHealthy polls GET /health until it answers {"health":"true"}, the
// process exits, or timeout passes.
func (n *Node) WaitHealthy(timeout time.Duration) error {
	return n.Process.WaitHealthy(n.ClientURL(), timeout)
}

// Restart stops the node gracefully and starts it again on the same data
// directory and ports, waiting for health.
func (n *Node) Restart() error {
	if err := n.Stop(); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return n.Start()
}

// SelfStats is the part of /v2/stats/self that tests rely on.
type SelfStats struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	State      string `json:"state"`
	LeaderInfo struct {
		Leader string `json:"leader"`
	} `json:"leaderInfo"`
}

// Self fetches /v2/stats/self.
func (n *Node) Self() (SelfStats, error) {
	var s SelfStats
	resp, err := n.HTTPClient().Get(n.ClientURL() + "/v2/stats/self")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("stats/self: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// IsLeader reports whether /v2/stats/self says "state":"StateLeader".
func (n *Node) IsLeader() (bool, error) {
	s, err := n.Self()
	return s.State == "StateLeader", err
}

func (n *Node) cleanup() {
	if n.Running() {
		_ = n.Kill()
	}
	if n.tb.Failed() {
		n.tb.Logf("--- last %d lines of %s (%s):\n%s", logTailLines, n.Name, n.LogPath, n.LogTail(logTailLines))
	}
	n.Close()
}

func newNode(tb testing.TB, base, name string, opts Options) (*Node, error) {
	cp, err := FreePort()
	if err != nil {
		return nil, err
	}
	pp, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st := opts.StartTimeout
	if st == 0 {
		st = DefaultStartTimeout
	}
	proc := &Process{Name: name, LogPath: filepath.Join(dir, "output.log"), Env: opts.Env}
	if opts.TLS != nil {
		proc.TLS = opts.TLS.ClientConfig
	}
	return &Node{
		Process:      proc,
		tls:          opts.TLS,
		DataDir:      filepath.Join(dir, "data"),
		clientPort:   cp,
		peerPort:     pp,
		startTimeout: st,
		tb:           tb,
	}, nil
}
