package procs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	Name    string
	DataDir string
	LogPath string

	clientPort, peerPort int
	args                 []string
	env                  []string
	startTimeout         time.Duration
	tb                   testing.TB

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exit     *os.ProcessState
	logFile  *os.File
	launches int
}

// ClientURL is the node's advertised client URL (http://127.0.0.1:port).
func (n *Node) ClientURL() string { return fmt.Sprintf("http://127.0.0.1:%d", n.clientPort) }

// PeerURL is the node's advertised peer URL.
func (n *Node) PeerURL() string { return fmt.Sprintf("http://127.0.0.1:%d", n.peerPort) }

// Args returns the command line the node is started with.
func (n *Node) Args() []string { return append([]string(nil), n.args...) }

// Running reports whether the process has been started and not yet exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// ExitState is the state of the last process that exited, or nil.
func (n *Node) ExitState() *os.ProcessState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exit
}

// Launch starts the process without waiting for it to become healthy (a
// cluster member cannot be healthy until a quorum is up).
func (n *Node) Launch() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.done:
		default:
			return fmt.Errorf("procs: %s is already running", n.Name)
		}
	}
	if n.logFile == nil {
		f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		n.logFile = f
	}
	n.launches++
	fmt.Fprintf(n.logFile, "=== procs: launch %d of %s at %s: %s %s\n", n.launches, n.Name,
		time.Now().Format(time.RFC3339Nano), Binary(), strings.Join(n.args, " "))
	cmd := exec.Command(Binary(), n.args...)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = n.logFile, n.logFile
	// Children die with the test binary even when it is killed by a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("procs: start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done, n.exit = cmd, done, nil
	go func() {
		_ = cmd.Wait()
		n.mu.Lock()
		n.exit = cmd.ProcessState
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

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
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return ErrNotRunning
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := n.healthy()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("procs: %s not healthy after %v: %v", n.Name, timeout, last)
		}
		select {
		case <-done:
			return fmt.Errorf("procs: %s exited while waiting for health: %v", n.Name, n.ExitState())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) healthy() (bool, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.ClientURL() + "/health")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &h); err != nil {
		return false, fmt.Errorf("health %d %q: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != http.StatusOK || h.Health != "true" {
		return false, fmt.Errorf("health %d %q", resp.StatusCode, body)
	}
	return true, nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (n *Node) Kill() error {
	return n.signalAndWait(syscall.SIGKILL, DefaultStopTimeout)
}

// Stop sends SIGTERM (graceful shutdown) and waits for the process to exit.
// When it has not exited after DefaultStopTimeout it is killed and Stop
// reports the hang as an error.
func (n *Node) Stop() error {
	err := n.signalAndWait(syscall.SIGTERM, DefaultStopTimeout)
	if err != nil && !errors.Is(err, ErrNotRunning) {
		_ = n.signalAndWait(syscall.SIGKILL, DefaultStopTimeout)
	}
	return err
}

func (n *Node) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return ErrNotRunning
	}
	select {
	case <-done:
		return ErrNotRunning
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("procs: %s did not exit within %v of %v", n.Name, timeout, sig)
	}
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
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.ClientURL() + "/v2/stats/self")
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

// LogTail returns the last lines of the node's output across all launches.
func (n *Node) LogTail(lines int) string {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > lines {
			ring = ring[1:]
		}
	}
	return strings.Join(ring, "\n")
}

func (n *Node) cleanup() {
	if n.Running() {
		_ = n.Kill()
	}
	if n.tb.Failed() {
		n.tb.Logf("--- last %d lines of %s (%s):\n%s", logTailLines, n.Name, n.LogPath, n.LogTail(logTailLines))
	}
	n.mu.Lock()
	if n.logFile != nil {
		n.logFile.Close()
		n.logFile = nil
	}
	n.mu.Unlock()
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
	return &Node{
		Name:         name,
		DataDir:      filepath.Join(dir, "data"),
		LogPath:      filepath.Join(dir, "output.log"),
		clientPort:   cp,
		peerPort:     pp,
		env:          opts.Env,
		startTimeout: st,
		tb:           tb,
	}, nil
}
